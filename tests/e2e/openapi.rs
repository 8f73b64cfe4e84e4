//! The admin API's OpenAPI document and reference page: public, snapshotted, and held to the router
//! (every route with its methods, nothing else), to the roles the routes accept, and to the bodies
//! the handlers really send.

use std::collections::BTreeSet;

use reqwest::Method;
use scimd::store::Role;
use serde_json::{Value, json};

use crate::both_databases;
use crate::fixture::{Db, TestApp};

const PREFIX: &str = "/admin/v1";
const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

async fn document(app: &TestApp) -> Value {
    let reply = app.send(app.client.get(format!("{}{PREFIX}/openapi.json", app.base))).await.expect(200);
    assert!(reply.header("content-type").is_some_and(|t| t.starts_with("application/json")), "{:?}", reply.headers);
    reply.body
}

/// Each documented operation: method, path under `/admin/v1`, and the roles its security names
/// (None for an operation that needs no token).
fn operations(document: &Value) -> Vec<(Method, String, Option<Vec<String>>)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let path = path.strip_prefix(PREFIX).unwrap_or_else(|| panic!("{path} is not under {PREFIX}"));
        for (method, operation) in item.as_object().expect("path item") {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("a method");
            let roles = operation["security"][0]["bearer"]
                .as_array()
                .map(|roles| roles.iter().map(|r| r.as_str().expect("role").to_owned()).collect());
            operations.push((method, path.to_owned(), roles));
        }
    }
    operations
}

/// A route path with a value in each `{parameter}`.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    for (i, part) in path.split(['{', '}']).enumerate() {
        out.push_str(if i % 2 == 1 { "00000000-0000-0000-0000-000000000000" } else { part });
    }
    out
}

#[tokio::test]
async fn openapi_document_snapshot() {
    let app = TestApp::start(Db::Sqlite).await.expect("sqlite");
    let document = document(&app).await;
    insta::assert_json_snapshot!(document);
}

#[tokio::test]
async fn document_and_reference_page_need_no_token() {
    let app = TestApp::start(Db::Sqlite).await.expect("sqlite");
    let document = document(&app).await;
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", document["openapi"]);
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"],
        json!({
            "type": "http",
            "scheme": "bearer",
            "description": "An API token of the tenant (`scimd token create`); its role is in each operation."
        })
    );

    let page = app.client.get(format!("{}{PREFIX}/docs", app.base)).send().await.expect("reply");
    assert_eq!(page.status(), 200);
    let content_type = page.headers()["content-type"].to_str().expect("text").to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = page.text().await.expect("body");
    assert!(html.contains("<html") && html.contains("id=\"api-reference\""), "{html}");
    assert!(html.contains("\"operationId\":\"uploadCsvSync\""), "the page carries the document");
}

/// The values of the page's `src` and `href` attributes. The document inside the page is JSON, whose
/// quotes are escaped, so each unescaped `src="` is markup.
fn sources(html: &str) -> Vec<String> {
    let mut sources = Vec::new();
    for attribute in ["src=", "href="] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            let Some(quote) = rest.chars().next().filter(|c| ['"', '\''].contains(c)) else { continue };
            let value = rest[1..].split(quote).next().expect("a closing quote");
            sources.push(value.to_owned());
        }
    }
    sources
}

#[tokio::test]
async fn reference_page_loads_only_its_own_script_embedded_in_scimd() {
    let app = TestApp::start(Db::Sqlite).await.expect("sqlite");
    let page = app.client.get(format!("{}{PREFIX}/docs", app.base)).send().await.expect("reply");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("body");
    let sources = sources(&html);
    assert!(
        sources.iter().all(|source| source.starts_with('/') && !source.starts_with("//")),
        "the page loads something from another origin: {sources:?}"
    );
    for external in ["src=\"http", "src='http", "href=\"http", "href='http", "url(http", "@import"] {
        assert!(!html.contains(external), "{external} in the page");
    }
    let scripts: Vec<&String> = sources.iter().filter(|source| source.ends_with(".js")).collect();
    let [script] = scripts.as_slice() else { panic!("one script, Scalar's: {sources:?}") };
    assert!(script.starts_with(&format!("{PREFIX}/docs/scalar-")), "{script}");

    let fetch = |accept_encoding: Option<&'static str>| {
        let request = app.client.get(format!("{}{script}", app.base));
        let request = match accept_encoding {
            Some(value) => request.header("accept-encoding", value),
            None => request,
        };
        async move {
            let reply = request.send().await.expect("reply");
            assert_eq!(reply.status(), 200, "{accept_encoding:?}");
            let headers = reply.headers().clone();
            let header = |name: &str| headers.get(name).map(|v| v.to_str().expect("text").to_owned());
            let content_type = header("content-type").unwrap_or_default();
            assert!(content_type.starts_with("application/javascript"), "{content_type}");
            assert!(header("cache-control").is_some_and(|c| c.contains("immutable")), "{headers:?}");
            assert!(header("vary").is_some_and(|v| v.eq_ignore_ascii_case("accept-encoding")), "{headers:?}");
            (header("content-encoding"), reply.bytes().await.expect("body").to_vec())
        }
    };

    // Plain to a client that does not ask for gzip (reqwest here asks for nothing by itself).
    let (encoding, plain) = fetch(None).await;
    assert_eq!(encoding, None);
    assert!(plain.len() > 1_000_000, "{} bytes", plain.len());
    assert!(plain.starts_with(b"(function(){"), "not Scalar's bundle: {:?}", String::from_utf8_lossy(&plain[..200]));
    let text = std::str::from_utf8(&plain).expect("UTF-8 JavaScript");
    assert!(text.contains("createApiReference") && text.contains("api-reference"), "not Scalar's standalone bundle");
    for refused in ["identity", "br, deflate", "gzip;q=0"] {
        let (encoding, body) = fetch(Some(refused)).await;
        assert_eq!((encoding, body.len()), (None, plain.len()), "Accept-Encoding: {refused}");
    }

    // Gzip, the embedded bytes as they are, to a browser.
    for accepted in ["gzip, deflate, br, zstd", "gzip", "br;q=1, gzip;q=0.5"] {
        let (encoding, gzip) = fetch(Some(accepted)).await;
        assert_eq!(encoding.as_deref(), Some("gzip"), "Accept-Encoding: {accepted}");
        assert!(gzip.starts_with(&[0x1f, 0x8b]) && gzip.len() < plain.len() / 2, "{} bytes", gzip.len());
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gzip.as_slice()), &mut inflated).expect("gzip");
        assert!(inflated == plain, "the gzip body decompresses to the plain one");
    }

    // HEAD, as a cache revalidating would send it.
    let head = app.client.head(format!("{}{script}", app.base)).send().await.expect("reply");
    assert_eq!(head.status(), 200);
}

/// The methods the router has for each admin path, found by asking without a token: a method it
/// has answers 401 (or 200 where no token is needed), one it lacks answers 405.
async fn routed(app: &TestApp) -> BTreeSet<(String, String)> {
    let mut routed = BTreeSet::new();
    for path in scimd::admin::route_paths() {
        for method in METHODS {
            let url = format!("{}{PREFIX}{}", app.base, concrete(path));
            let reply = app.send(app.client.request(method.clone(), url)).await;
            match reply.status.as_u16() {
                405 => {}
                200 | 401 => {
                    routed.insert((method.to_string(), path.to_owned()));
                }
                other => panic!("{method} {path} without a token answered {other}: {}", reply.body),
            }
        }
    }
    routed
}

#[tokio::test]
async fn every_route_and_method_is_documented_and_nothing_else() {
    let app = TestApp::start(Db::Sqlite).await.expect("sqlite");
    let document = document(&app).await;
    let documented: BTreeSet<(String, String)> =
        operations(&document).into_iter().map(|(method, path, _)| (method.to_string(), path)).collect();
    let routed = routed(&app).await;
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes without a #[utoipa::path] in admin::openapi: {undocumented:?}; documented but not routed: {unrouted:?}"
    );

    // Operation ids name operations in the reference page and in generated clients.
    let ids: Vec<&str> = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("path item").values())
        .map(|operation| operation["operationId"].as_str().expect("operationId"))
        .collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "duplicate operationId in {ids:?}");

    // Every `$ref` resolves.
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(refs.len() > 50, "{refs:?}");
    for target in refs {
        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{target} is not local"));
        assert!(document.pointer(pointer).is_some(), "{target} resolves to nothing");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

both_databases! {
    async fn documented_roles_are_the_roles_each_route_accepts(app: TestApp) {
        let document = document(&app).await;
        let auditor = app.tenant_token("acme", Role::Auditor, None).await;
        for (method, path, roles) in operations(&document) {
            let url = format!("{}{PREFIX}{}", app.base, concrete(&path));
            let call = |token: Option<&str>| {
                let request = app.client.request(method.clone(), &url).json(&json!({}));
                match token {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                }
            };
            let Some(roles) = roles else {
                app.send(call(None)).await.expect(200);
                continue;
            };
            let description = document["paths"][format!("{PREFIX}{path}")][method.as_str().to_ascii_lowercase()]["description"]
                .as_str()
                .expect("description");
            let said = if roles.len() == 1 { format!("Role: {}.", roles[0]) } else { format!("Roles: {}.", roles.join(", ")) };
            assert!(description.ends_with(&said), "{method} {path}: {description:?} does not say {said:?}");

            let status = |reply: &crate::fixture::Reply| reply.status.as_u16();
            let reply = app.send(call(None)).await;
            assert_eq!((status(&reply), &reply.body["name"]), (401, &json!("UNAUTHORIZED")), "{method} {path}");
            let reply = app.send(call(Some(&app.token))).await;
            assert_eq!(status(&reply), 403, "{method} {path}: a scim token");
            let reply = app.send(call(Some(&auditor))).await;
            let auditor_refused = status(&reply) == 403 && reply.body["name"] == "FORBIDDEN";
            assert_eq!(auditor_refused, !roles.iter().any(|r| r == "auditor"), "{method} {path}: auditor got {}", reply.status);
            assert!(roles.iter().any(|r| r == "admin"), "{method} {path}: {roles:?}");
            let reply = app.send(call(Some(&app.admin_token))).await;
            assert!(![401, 403, 405].contains(&status(&reply)), "{method} {path}: admin got {}: {}", reply.status, reply.body);
        }
    }
}

/// The ways `value` departs from `schema`, for the subset of JSON Schema the document uses (`$ref`,
/// `allOf`, `type`, `enum`, `required`, `properties`, `additionalProperties`, `items`). Strict
/// about keys: an object key the schema does not name is a departure, so a field added to or
/// removed from a handler's `json!` body shows here until the document says so too.
fn departures(document: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(target) = schema["$ref"].as_str() {
        let target = document.pointer(target.trim_start_matches('#')).expect("a resolvable $ref");
        return departures(document, target, value, at, out);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = json!({"type": "object", "properties": {}, "required": []});
        for part in parts {
            let part = match part["$ref"].as_str() {
                Some(target) => document.pointer(target.trim_start_matches('#')).expect("a resolvable $ref"),
                None => part,
            };
            let properties = part["properties"].as_object().into_iter().flatten();
            merged["properties"]
                .as_object_mut()
                .expect("object")
                .extend(properties.map(|(k, v)| (k.clone(), v.clone())));
            let required = part["required"].as_array().into_iter().flatten().cloned();
            merged["required"].as_array_mut().expect("array").extend(required);
        }
        return departures(document, &merged, value, at, out);
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let is = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("type {other} is not handled here"),
    };
    if !types.is_empty() && !types.iter().any(|t| is(t)) {
        out.push(format!("{at}: {value} is not {types:?}"));
        return;
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {values:?}"));
    }
    if let Some(object) = value.as_object() {
        for key in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !object.contains_key(key) {
                out.push(format!("{at}.{key}: required, absent"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, item) in object {
            match (properties.and_then(|p| p.get(key)), &schema["additionalProperties"]) {
                (Some(property), _) => departures(document, property, item, &format!("{at}.{key}"), out),
                (None, additional @ Value::Object(_)) => {
                    departures(document, additional, item, &format!("{at}.{key}"), out)
                }
                (None, _) if properties.is_some() => out.push(format!("{at}.{key}: not in the schema")),
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            departures(document, items, item, &format!("{at}[{i}]"), out);
        }
    }
}

/// Asserts that `body`, sent by `method path`, is what the document says that operation answers
/// with `status` as JSON.
#[track_caller]
fn conforms(document: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let schema = &document["paths"][format!("{PREFIX}{path}")][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(schema.is_object(), "{method} {path} documents no JSON body for {status}");
    let mut out = Vec::new();
    departures(document, schema, body, "body", &mut out);
    assert!(out.is_empty(), "{method} {path} {status} departs from the document: {out:#?}\n{body:#}");
}

both_databases! {
    async fn responses_match_their_documented_schemas(app: TestApp) {
        let document = document(&app).await;
        let get = |path: String| app.send(app.admin(Method::GET, &path));

        let user = app.user(json!({"userName": "ann", "title": "clerk"})).await;
        let group = app.group(json!({"displayName": "staff"})).await;
        let csv = "UserName,Email,UserId,GroupIdList,ActiveStatus\nBob,bob@example.com,bob,,Active\n";
        let queued = app.upload_csv("users.csv", csv, "missing=keep").await.expect(202).body;
        conforms(&document, "post", "/csv-sync", 202, &queued);
        let job = app.wait_job(queued["id"].as_str().expect("id")).await;
        conforms(&document, "get", "/jobs/{id}", 200, &job);
        conforms(&document, "get", "/jobs", 200, &get("/jobs".into()).await.expect(200).body);

        let body = json!({"name": "corp", "kind": "ldap", "schedule": "0 3 * * *", "guardPercent": 20,
            "config": {"url": "ldap://127.0.0.1:1", "users": {"base": "ou=people,dc=x"}, "bindDn": "cn=a", "bindPasswordEnv": "LDAP_PW"}});
        let connector = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(201).body;
        conforms(&document, "post", "/connectors", 201, &connector);
        let id = connector["id"].as_str().expect("id");
        conforms(&document, "get", "/connectors", 200, &get("/connectors".into()).await.expect(200).body);
        conforms(&document, "get", "/connectors/{id}", 200, &get(format!("/connectors/{id}")).await.expect(200).body);
        let run = app.send(app.admin(Method::POST, &format!("/connectors/{id}/runs"))).await.expect(202).body;
        conforms(&document, "post", "/connectors/{id}/runs", 202, &run);
        app.wait_job(run["id"].as_str().expect("id")).await;
        conforms(&document, "get", "/connectors/{id}/runs", 200, &get(format!("/connectors/{id}/runs")).await.expect(200).body);

        let page = get("/audit?count=2".into()).await.expect(200).body;
        assert!(page["nextCursor"].is_string(), "{page}");
        conforms(&document, "get", "/audit", 200, &page);
        let (status, lines) = app.admin_text("/audit/export?format=jsonl").await;
        assert_eq!(status, 200);
        for line in lines.lines() {
            let event: Value = serde_json::from_str(line).expect("a JSON line");
            let schema = &document["paths"]["/admin/v1/audit/export"]["get"]["responses"]["200"]["content"]["application/x-ndjson"]["schema"];
            let mut out = Vec::new();
            departures(&document, schema, &event, "line", &mut out);
            assert!(out.is_empty(), "{out:#?}");
        }

        let provenance = get(format!("/users/{user}/provenance")).await.expect(200).body;
        assert!(!provenance["attributes"].as_array().expect("attributes").is_empty(), "{provenance}");
        conforms(&document, "get", "/users/{id}/provenance", 200, &provenance);
        conforms(&document, "get", "/groups/{id}/provenance", 200, &get(format!("/groups/{group}/provenance")).await.expect(200).body);

        // Tokens and the tenant: a page with a next one, the created token with its secret, the
        // token alone, revoked (twice: the same answer), and the tenant.
        let page = get("/tokens?count=1".into()).await.expect(200).body;
        assert!(page["nextCursor"].is_string(), "{page}");
        conforms(&document, "get", "/tokens", 200, &page);
        let cursor = page["nextCursor"].as_str().expect("cursor");
        let last = get(format!("/tokens?count=1&cursor={cursor}")).await.expect(200).body;
        assert!(last["nextCursor"].is_null(), "{last}");
        conforms(&document, "get", "/tokens", 200, &last);
        let body = json!({"role": "scim", "client": "okta"});
        let created = app.send(app.admin(Method::POST, "/tokens").json(&body)).await.expect(201);
        let token_id = created.body["id"].as_str().expect("id").to_owned();
        assert!(created.body["token"].as_str().is_some_and(|t| t.starts_with("scimd_")), "{}", created.body);
        assert_eq!(created.header("location"), Some(format!("/admin/v1/tokens/{token_id}").as_str()));
        conforms(&document, "post", "/tokens", 201, &created.body);
        let shown = get(format!("/tokens/{token_id}")).await.expect(200).body;
        conforms(&document, "get", "/tokens/{id}", 200, &shown);
        let revoke = || app.send(app.admin(Method::DELETE, &format!("/tokens/{token_id}")));
        let revoked = revoke().await.expect(200).body;
        assert!(revoked["revoked"].is_string(), "{revoked}");
        conforms(&document, "delete", "/tokens/{id}", 200, &revoked);
        assert_eq!(revoke().await.expect(200).body, revoked);
        let all = get("/tokens?includeRevoked=true&role=scim".into()).await.expect(200).body;
        assert!(all["Resources"].as_array().expect("Resources").iter().any(|t| t["id"] == token_id.as_str()), "{all}");
        conforms(&document, "get", "/tokens", 200, &all);
        let tenant = get("/tenant".into()).await.expect(200).body;
        assert_eq!(tenant["name"], "acme");
        conforms(&document, "get", "/tenant", 200, &tenant);
        let auditor = app.tenant_token("acme", Role::Auditor, None).await;
        for path in ["/tokens", "/tenant"] {
            let url = format!("{}{PREFIX}{path}", app.base);
            let read = app.send(app.client.get(url).bearer_auth(&auditor)).await.expect(200).body;
            conforms(&document, "get", path, 200, &read);
        }

        // The error body, with documented codes.
        let errors = [
            (Method::GET, format!("/tokens/{}", concrete("{id}")), None, 404, "TOKEN_NOT_FOUND", "/tokens/{id}"),
            (Method::DELETE, format!("/tokens/{}", concrete("{id}")), None, 404, "TOKEN_NOT_FOUND", "/tokens/{id}"),
            (Method::GET, "/tokens?role=root".to_owned(), None, 400, "INVALID_PARAMETER", "/tokens"),
            (Method::GET, "/tokens?cursor=nonsense".to_owned(), None, 400, "INVALID_CURSOR", "/tokens"),
            (Method::POST, "/tokens".to_owned(), Some(json!({"role": "admin", "client": "x"})), 400, "INVALID_PARAMETER", "/tokens"),
            (Method::POST, "/tokens".to_owned(), Some(json!({"role": "scim", "secret": "x"})), 400, "INVALID_PARAMETER", "/tokens"),
        ];
        for (method, path, body, status, name, documented) in errors {
            let request = app.admin(method.clone(), &path);
            let request = match body {
                Some(body) => request.json(&body),
                None => request,
            };
            let reply = app.send(request).await.expect(status).body;
            assert_eq!((&reply["code"], &reply["name"]), (&json!(0), &json!(name)), "{method} {path}");
            let operation = &document["paths"][format!("{PREFIX}{documented}")][method.as_str().to_ascii_lowercase()];
            let said = operation["responses"][status.to_string()]["description"].as_str().expect("a description");
            assert!(said.contains(&format!("`{name}`")), "{method} {documented} {status} does not name {name}: {said:?}");
            conforms(&document, &method.as_str().to_ascii_lowercase(), documented, status, &reply);
        }
        let bad_id = get("/jobs/not-a-job".into()).await.expect(400).body;
        assert_eq!((&bad_id["code"], &bad_id["name"]), (&json!(2713), &json!("SYNC_JOB_ID_FORMAT_INVALID")));
        conforms(&document, "get", "/jobs/{id}", 400, &bad_id);
        let unknown = get(format!("/jobs/{}", concrete("{id}"))).await.expect(404).body;
        assert_eq!(unknown["code"], 2712);
        conforms(&document, "get", "/jobs/{id}", 404, &unknown);
    }
}
