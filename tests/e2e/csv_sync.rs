//! CSV bulk registration through the sync engine: outcomes, result files, ownership of fields,
//! the missing policy, dry runs, file and row error codes, and the one-sync-per-tenant lock.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_databases;
use crate::fixture::TestApp;

const HEADER: &str = "UserName,Email,UserId,GroupIdList,ActiveStatus\n";

async fn user_by_name(app: &TestApp, user_name: &str) -> Value {
    let filter = format!("userName eq \"{user_name}\"");
    let reply = app.list("/Users", &[("filter", &filter), ("attributes", &format!("userName,displayName,emails,active,groups,{EXT}:managingEntity,{EXT}:deactivationReason,{EXT}:note"))]).await.expect(200);
    assert_eq!(reply.body["totalResults"], 1, "{:#}", reply.body);
    reply.body["Resources"][0].clone()
}

const EXT: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";

both_databases! {
    async fn creates_then_reports_updates_with_changed_fields(app: TestApp) {
        app.group(json!({"displayName": "Sales", "externalId": "dept_001"})).await;
        app.group(json!({"displayName": "dept_002"})).await;
        let file = format!("{HEADER}홍길동,hong@example.com,hong@example.com,dept_001,ACTIVE\nKim,kim@example.com,kim@example.com,,\n");
        let job = app.csv_sync(&file, "missing=keep").await;
        assert_eq!(job["status"], "completed", "{job:#}");
        assert_eq!((job["createdCount"].as_i64(), job["total"].as_i64()), (Some(2), Some(2)), "{job:#}");
        assert_eq!(job["progress"]["processed"], 2);
        assert_eq!(job["actorName"], "alice");
        let hong = user_by_name(&app, "hong@example.com").await;
        assert_eq!(hong["displayName"], "홍길동");
        assert_eq!(hong["emails"][0], json!({"type": "work", "value": "hong@example.com", "primary": true}));
        assert_eq!(hong["groups"][0]["display"], "Sales");
        assert_eq!(hong[EXT]["managingEntity"], "connector:csv");

        let (status, result) = app.admin_text(&format!("/jobs/{}/result.csv", job["id"].as_str().unwrap())).await;
        assert_eq!(status, 200);
        assert_eq!(result, "UserName,Email,UserId,GroupIdList,ActiveStatus,STATUS,CHANGED_FIELDS\r\n\
            홍길동,hong@example.com,hong@example.com,dept_001,ACTIVE,CREATED,\r\n\
            Kim,kim@example.com,kim@example.com,,,CREATED,\r\n");

        // Kim's row now names a new email (matched by UserId) and a group; Hong is unchanged.
        let file = format!("{HEADER}홍길동,hong@example.com,hong@example.com,dept_001,ACTIVE\nKim,kim2@example.com,kim@example.com,dept_002,ACTIVE\n");
        let job = app.csv_sync(&file, "missing=keep").await;
        assert_eq!((job["updatedCount"].as_i64(), job["unchangedCount"].as_i64()), (Some(1), Some(1)), "{job:#}");
        let (_, result) = app.admin_text(&format!("/jobs/{}/result.csv", job["id"].as_str().unwrap())).await;
        assert!(result.contains("\r\nKim,kim2@example.com,kim@example.com,dept_002,ACTIVE,UPDATED,email groupIdList\r\n"), "{result}");
        assert!(result.contains("홍길동,hong@example.com,hong@example.com,dept_001,ACTIVE,UNCHANGED,\r\n"), "{result}");
        let kim = user_by_name(&app, "kim@example.com").await;
        assert_eq!(kim["emails"][0]["value"], "kim2@example.com");
        assert_eq!(kim["groups"][0]["display"], "dept_002");
    }
}

both_databases! {
    async fn a_sync_overwrites_only_the_fields_its_source_owns(app: TestApp) {
        let job = app.csv_sync(&format!("{HEADER}Lee,lee@example.com,lee@example.com,,\n"), "missing=keep").await;
        assert_eq!(job["status"], "completed");
        let lee = user_by_name(&app, "lee@example.com").await;
        let id = lee["id"].as_str().unwrap();
        // An admin adds a note, a local group membership, and edits a CSV-owned field.
        app.patch_ops(&format!("/Users/{id}"), json!([
            {"op": "add", "path": format!("{EXT}:note"), "value": "VIP"},
            {"op": "replace", "path": "displayName", "value": "Edited by admin"}
        ])).await.expect(200);
        let local = app.group(json!({"displayName": "Local", "members": [{"value": id}]})).await;

        let job = app.csv_sync(&format!("{HEADER}Lee,lee@new.example.com,lee@example.com,,\n"), "missing=keep").await;
        assert_eq!(job["updatedCount"], 1, "{job:#}");
        let lee = user_by_name(&app, "lee@example.com").await;
        assert_eq!(lee["emails"][0]["value"], "lee@new.example.com");
        assert_eq!(lee["displayName"], "Lee", "the source's value wins over the admin edit");
        assert_eq!(lee[EXT]["note"], "VIP");
        assert_eq!(lee["groups"].as_array().map(|g| g.iter().any(|g| g["value"] == local.as_str())), Some(true), "{lee:#}");
    }
}

/// A user an admin created (managing entity `local`).
async fn local_user(app: &TestApp, user_name: &str) -> String {
    let tenant = app.store.tenant_by_name("acme").await.expect("tenant");
    let doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, "active": true,
        "emails": [{"value": user_name}]});
    let write = scimd::store::ResourceWrite { doc: &doc, password_hash: None, managing_entity: "local", members: None };
    let (row, _) = app
        .store
        .create_resource(scimd_schemas::schema::ResourceKind::User, &tenant.id, &write, &crate::fixture::cli())
        .await
        .expect("created");
    row.id
}

both_databases! {
    async fn missing_users_are_deactivated_with_a_reason_or_maintained(app: TestApp) {
        local_user(&app, "local@example.com").await;
        app.user(json!({"userName": "idp@example.com", "active": true})).await;
        app.csv_sync(&format!("{HEADER}Park,park@example.com,park@example.com,,\n"), "missing=keep").await;

        let job = app.csv_sync(&format!("{HEADER}Kim,kim@example.com,kim@example.com,,\n"), "missing=keep").await;
        assert_eq!((job["createdCount"].as_i64(), job["maintainedCount"].as_i64()), (Some(1), Some(2)), "{job:#}");
        assert_eq!(user_by_name(&app, "park@example.com").await["active"], true);

        let job = app.csv_sync(&format!("{HEADER}Kim,kim@example.com,kim@example.com,,\n"), "missing=deactivate").await;
        assert_eq!((job["unchangedCount"].as_i64(), job["deactivatedCount"].as_i64()), (Some(1), Some(2)), "{job:#}");
        let (_, result) = app.admin_text(&format!("/jobs/{}/result.csv", job["id"].as_str().unwrap())).await;
        assert!(result.contains(",park@example.com,park@example.com,,INACTIVE,DEACTIVATED,\r\n"), "{result}");
        for name in ["local@example.com", "park@example.com"] {
            let user = user_by_name(&app, name).await;
            assert_eq!(user["active"], false, "{user:#}");
            assert_eq!(user[EXT]["deactivationReason"], "CSV_SYNC", "{user:#}");
        }
        assert_eq!(user_by_name(&app, "idp@example.com").await["active"], true, "users an IdP manages are never touched");

        // Back in the file: reactivated, and the reason is cleared.
        let job = app.csv_sync(&format!("{HEADER}Park,park@example.com,park@example.com,,ACTIVE\n"), "missing=keep").await;
        assert_eq!(job["updatedCount"], 1, "{job:#}");
        let park = user_by_name(&app, "park@example.com").await;
        assert_eq!(park["active"], true);
        assert!(park[EXT].get("deactivationReason").is_none(), "{park:#}");
    }
}

both_databases! {
    async fn a_dry_run_writes_nothing_but_returns_the_outcomes(app: TestApp) {
        local_user(&app, "local@example.com").await;
        let job = app.csv_sync(&format!("{HEADER}Kim,kim@example.com,kim@example.com,,\n"), "missing=deactivate&dryRun=true").await;
        assert_eq!((job["createdCount"].as_i64(), job["deactivatedCount"].as_i64()), (Some(1), Some(1)), "{job:#}");
        assert_eq!(job["dryRun"], true);
        let reply = app.list("/Users", &[]).await.expect(200);
        assert_eq!(reply.body["totalResults"], 1, "only the local user: {:#}", reply.body);
        assert_eq!(user_by_name(&app, "local@example.com").await["active"], true);
        let (_, result) = app.admin_text(&format!("/jobs/{}/result.csv", job["id"].as_str().unwrap())).await;
        assert!(result.contains("Kim,kim@example.com,kim@example.com,,,CREATED,"), "{result}");
    }
}

both_databases! {
    async fn row_errors_fail_their_rows_and_the_rest_proceed(app: TestApp) {
        app.user(json!({"userName": "okta@example.com", "emails": [{"value": "okta@example.com"}]})).await;
        let file = format!("{HEADER}\
            Good,good@example.com,good@example.com,,\n\
            ,bad,,,MAYBE\n\
            Dup,good@example.com,other@example.com,,\n\
            NoGroup,ng@example.com,ng@example.com,nosuch,\n\
            Okta,okta@example.com,okta@example.com,,\n\
            Short,short@example.com\n");
        let job = app.csv_sync(&file, "missing=keep").await;
        assert_eq!(job["status"], "partial", "{job:#}");
        assert_eq!((job["createdCount"].as_i64(), job["invalidCount"].as_i64()), (Some(1), Some(5)), "{job:#}");
        let (_, errors) = app.admin_text(&format!("/jobs/{}/errors.csv", job["id"].as_str().unwrap())).await;
        let lines: Vec<&str> = errors.split("\r\n").collect();
        assert_eq!(lines[0], "UserName,Email,UserId,GroupIdList,ActiveStatus,STATUS,ERROR");
        assert_eq!(lines[1], ",bad,,,MAYBE,FAILED,USER_NAME_REQUIRED;EMAIL_INVALID;USER_ID_REQUIRED;ACTIVE_STATUS_INVALID");
        assert_eq!(lines[2], "Dup,good@example.com,other@example.com,,,FAILED,DUPLICATE_EMAIL");
        assert_eq!(lines[3], "NoGroup,ng@example.com,ng@example.com,nosuch,,FAILED,GROUP_NOT_FOUND");
        assert_eq!(lines[4], "Okta,okta@example.com,okta@example.com,,,FAILED,MANAGED_BY_OTHER_SOURCE (scim:okta)");
        assert_eq!(lines[5], "Short,short@example.com,,,,FAILED,CSV_RECORD_SIZE_MISMATCH");
    }
}

async fn expect_code(reply: crate::fixture::Reply, status: u16, code: u64, name: &str) {
    let reply = reply.expect(status);
    assert_eq!(
        (reply.body["code"].as_u64(), reply.body["name"].as_str()),
        (Some(code), Some(name)),
        "{:#}",
        reply.body
    );
}

both_databases! {
    async fn bad_files_are_rejected_whole_with_their_codes(app: TestApp) {
        expect_code(app.upload_csv("users.txt", HEADER, "missing=keep").await, 400, 2711, "CSV_FILE_INVALID_TYPE").await;
        let empty = app.send(app.admin(Method::POST, "/csv-sync?missing=keep")).await;
        expect_code(empty, 400, 2700, "CSV_FILE_UPLOAD_REQUIRED").await;
        expect_code(app.upload_csv("u.csv", "UserName,UserId\nA,a@example.com\n", "missing=keep").await, 400, 2703, "CSV_HEADER_MISMATCH").await;
        expect_code(app.upload_csv("u.csv", HEADER, "missing=keep").await, 400, 2705, "CSV_FILE_EMPTY").await;
        expect_code(app.upload_csv("u.csv", &format!("{HEADER}\"A,a@example.com,a@example.com,,\n"), "missing=keep").await, 400, 2701, "CSV_PARSE_ERROR").await;
        let euc_kr = [HEADER.as_bytes(), b"\xc8\xab\xb1\xe6\xb5\xbf,a@example.com,a@example.com,,\n"].concat();
        let part = reqwest::multipart::Part::bytes(euc_kr).file_name("u.csv");
        let reply = app.send(app.admin(Method::POST, "/csv-sync?missing=keep").multipart(reqwest::multipart::Form::new().part("file", part))).await;
        expect_code(reply, 400, 2702, "CSV_ENCODING_UNSUPPORTED").await;
        // A raw text/csv body works too.
        let raw = app.admin(Method::POST, "/csv-sync?missing=keep&filename=raw.csv").header("content-type", "text/csv")
            .body(format!("{HEADER}Raw,raw@example.com,raw@example.com,,\n"));
        let job = app.send(raw).await.expect(202);
        app.wait_job(job.body["id"].as_str().unwrap()).await;
        let reply = app.list("/Users", &[]).await.expect(200);
        assert_eq!(reply.body["totalResults"], 1, "only the raw upload wrote: {:#}", reply.body);
        let jobs = app.send(app.admin(Method::GET, "/jobs")).await.expect(200);
        assert_eq!(jobs.body["totalResults"], 1, "rejected files leave no job: {:#}", jobs.body);
    }
}

both_databases! {
    async fn job_ids_and_roles_get_their_codes(app: TestApp) {
        expect_code(app.send(app.admin(Method::GET, "/jobs/0192f0c4-0000-7000-8000-000000000000")).await, 404, 2712, "SYNC_JOB_NOT_FOUND").await;
        expect_code(app.send(app.admin(Method::GET, "/jobs/not-a-uuid")).await, 400, 2713, "SYNC_JOB_ID_FORMAT_INVALID").await;
        let scim = app.client.get(format!("{}/admin/v1/jobs", app.base)).bearer_auth(&app.token);
        app.send(scim).await.expect(403);
        let auditor = app.tenant_token("acme", scimd::store::Role::Auditor, None).await;
        let read = app.client.get(format!("{}/admin/v1/jobs", app.base)).bearer_auth(&auditor);
        app.send(read).await.expect(200);
        let part = reqwest::multipart::Part::bytes(HEADER.as_bytes().to_vec()).file_name("u.csv");
        let write = app.client.post(format!("{}/admin/v1/csv-sync?missing=keep", app.base)).bearer_auth(&auditor)
            .multipart(reqwest::multipart::Form::new().part("file", part));
        app.send(write).await.expect(403);
    }
}

both_databases! {
    async fn two_uploads_at_once_run_one_job(app: TestApp) {
        let mut file = String::from(HEADER);
        for i in 0..5000 {
            file.push_str(&format!("User {i},u{i}@example.com,u{i}@example.com,,\n"));
        }
        let (a, b) = tokio::join!(app.upload_csv("a.csv", &file, "missing=keep"), app.upload_csv("b.csv", &file, "missing=keep"));
        let (won, lost) = if a.status == 202 { (a, b) } else { (b, a) };
        let won = won.expect(202);
        let lost = lost.expect(409);
        let name = lost.body["name"].as_str().unwrap().to_owned();
        assert!(name == "SYNC_JOB_ALREADY_REQUESTED" || name == "SYNC_JOB_ALREADY_RUNNING", "{:#}", lost.body);
        let job = app.wait_job(won.body["id"].as_str().unwrap()).await;
        assert_eq!(job["createdCount"], 5000, "{job:#}");
        // The lock is free again.
        app.csv_sync(&file, "missing=keep").await;
    }
}

both_databases! {
    async fn users_export_as_csv_with_filters_and_selection(app: TestApp) {
        app.csv_sync(&format!("{HEADER}Kim,kim@example.com,kim@example.com,,\nLee,lee@example.com,lee@example.com,,INACTIVE\n"), "missing=keep").await;
        let okta = app.user(json!({"userName": "okta@example.com", "displayName": "Okta"})).await;
        let (status, all) = app.admin_text("/users/export.csv?sortBy=userName").await;
        assert_eq!(status, 200);
        let lines: Vec<&str> = all.split("\r\n").collect();
        assert_eq!(lines[0], "UserName,UserId,Email,integrations,ActiveStatus,created");
        assert!(lines[1].starts_with("Kim,kim@example.com,kim@example.com,connector:csv,Active,"), "{all}");
        assert!(lines[2].starts_with("Lee,lee@example.com,lee@example.com,connector:csv,Inactive,"), "{all}");
        assert!(lines[3].starts_with("Okta,okta@example.com,,scim:okta,Active,"), "{all}");
        let (_, filtered) = app.admin_text("/users/export.csv?filter=active%20eq%20false").await;
        assert_eq!(filtered.lines().count(), 2, "{filtered}");
        let (_, selected) = app.admin_text(&format!("/users/export.csv?ids={okta}")).await;
        assert_eq!(selected.lines().count(), 2, "{selected}");
        assert!(selected.contains("okta@example.com"));
    }
}

both_databases! {
    async fn an_unlinked_user_becomes_local_and_is_not_overwritten(app: TestApp) {
        app.csv_sync(&format!("{HEADER}Kim,kim@example.com,kim@example.com,,\n"), "missing=keep").await;
        let kim = user_by_name(&app, "kim@example.com").await;
        let id = kim["id"].as_str().unwrap();
        let reply = app.send(app.admin(Method::DELETE, &format!("/users/{id}/links/csv"))).await;
        reply.expect(204);
        assert_eq!(user_by_name(&app, "kim@example.com").await[EXT]["managingEntity"], "local");
        let again = app.send(app.admin(Method::DELETE, &format!("/users/{id}/links/csv"))).await;
        again.expect(404);
    }
}

both_databases! {
    async fn a_resync_of_the_same_file_restores_what_others_changed(app: TestApp) {
        let sales = app.group(json!({"displayName": "Sales"})).await;
        let file = format!("{HEADER}Park,park@example.com,park@example.com,Sales,ACTIVE\n");
        assert_eq!(app.csv_sync(&file, "missing=keep").await["createdCount"], 1);
        let job = app.csv_sync(&file, "missing=keep").await;
        assert_eq!(job["unchangedCount"], 1, "{job:#}");
        let id = user_by_name(&app, "park@example.com").await["id"].as_str().unwrap().to_owned();

        // Someone removes the CSV-owned membership and renames the user; the record is the same.
        app.patch_ops(&format!("/Groups/{sales}"), json!([
            {"op": "remove", "path": format!("members[value eq \"{id}\"]")}
        ])).await.expect(200);
        let job = app.csv_sync(&file, "missing=keep").await;
        assert_eq!(job["updatedCount"], 1, "{job:#}");
        let (_, result) = app.admin_text(&format!("/jobs/{}/result.csv", job["id"].as_str().unwrap())).await;
        assert!(result.contains(",UPDATED,groupIdList\r\n"), "{result}");
        app.patch_ops(&format!("/Users/{id}"), json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]))
            .await
            .expect(200);
        let job = app.csv_sync(&file, "missing=keep").await;
        let (_, result) = app.admin_text(&format!("/jobs/{}/result.csv", job["id"].as_str().unwrap())).await;
        assert!(result.contains(",UPDATED,userName\r\n"), "{result}");
        let park = user_by_name(&app, "park@example.com").await;
        assert_eq!(park["displayName"], "Park");
        assert_eq!(park["groups"][0]["value"], sales.as_str());
    }
}
