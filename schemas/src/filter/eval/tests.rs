use serde_json::{Value, json};

use super::*;
use crate::error::ScimType;
use crate::filter::parse_filter;
use crate::schema::{Registry, ResourceKind};

/// RFC 7643 §8.2's full User, with the enterprise extension of §8.3 and scimd's own.
fn bjensen() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "addresses": [
            {
                "streetAddress": "100 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "USA",
                "type": "work",
                "primary": true
            }
        ],
        "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "userType": "Employee",
        "title": "Tour Guide",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "groups": [
            {"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}
        ],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
        },
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
                "displayName": "John Smith"
            }
        },
        "urn:ietf:params:scim:schemas:extension:scimd:2.0:User": {
            "status": "active",
            "managingEntity": "scim:okta",
            "lastAccess": "2024-03-01T12:00:00+01:00"
        }
    })
}

fn check(filter: &str, doc: &Value) -> Result<bool, ScimError> {
    let registry = Registry::builtin();
    let filter = parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?} should parse: {}", e.detail));
    matches(&filter, &registry.user, doc)
}

fn yes(filter: &str) {
    assert_eq!(check(filter, &bjensen()).map_err(|e| e.detail), Ok(true), "{filter}");
}

fn no(filter: &str) {
    assert_eq!(check(filter, &bjensen()).map_err(|e| e.detail), Ok(false), "{filter}");
}

/// The error detail; it must not depend on the document.
fn invalid(filter: &str) -> String {
    let err = check(filter, &bjensen()).expect_err(filter);
    assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{filter}");
    let on_empty = check(filter, &json!({})).expect_err(filter);
    assert_eq!(err, on_empty);
    err.detail
}

#[test]
fn rfc_7644_examples() {
    yes(r#"userName eq "bjensen@example.com""#);
    no(r#"userName eq "bjensen""#);
    no(r#"name.familyName co "O'Malley""#);
    yes(r#"name.familyName co "ens""#);
    yes(r#"userName sw "B""#);
    no(r#"userName sw "J""#);
    no(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#);
    yes(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#);
    yes("title pr");
    no(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#);
    yes(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#);
    no(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#);
    yes(r#"meta.lastModified le "2011-05-13T04:42:34Z""#);
    yes(r#"title pr and userType eq "Employee""#);
    yes(r#"title pr or userType eq "Intern""#);
    yes(r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#);
    no(r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#);
    yes(r#"userType eq "Employee" and (emails.type eq "work")"#);
    yes(r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#);
    yes(r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#);
    no(r#"emails[type eq "home" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#);
    // `schemas` is not a schema attribute here, so the RFC's `schemas eq "…"` example is refused.
    assert!(invalid(r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#).contains("schemas"));
}

#[test]
fn strings_follow_case_exact() {
    yes(r#"userName eq "BJensen@Example.COM""#);
    yes(r#"USERNAME eq "bjensen@example.com""#);
    yes(r#"name.familyName ew "SEN""#);
    yes(r#"id eq "2819c223-7f76-453a-919d-413861904646""#);
    no(r#"id eq "2819C223-7F76-453A-919D-413861904646""#);
    no(r#"externalId eq "701984 ""#);
    yes(r#"managingEntity eq "scim:okta""#);
    no(r#"managingEntity eq "SCIM:okta""#);
    yes(r#"meta.version eq "W/\"3694e05e9dff591\"""#);
}

#[test]
fn string_ordering_is_bytewise_after_folding() {
    yes(r#"userName gt "a""#);
    yes(r#"userName lt "C""#);
    yes(r#"userName ge "bjensen@example.com""#);
    yes(r#"userName le "BJENSEN@EXAMPLE.COM""#);
    no(r#"userName gt "bjensen@example.com""#);
    no(r#"id gt "a""#);
    yes(r#"id lt "a""#);
}

#[test]
fn ne_is_not_eq() {
    yes(r#"userName ne "someone""#);
    no(r#"userName ne "BJENSEN@example.com""#);
    let mut doc = bjensen();
    doc.as_object_mut().expect("object").remove("nickName");
    assert_eq!(check(r#"nickName ne "Babs""#, &doc), Ok(true));
    assert_eq!(check(r#"nickName eq "Babs""#, &doc), Ok(false));
    // One element equal is enough to make `ne` false on a multi-valued attribute.
    no(r#"emails ne "babs@jensen.org""#);
    yes(r#"emails ne "nobody@example.com""#);
    no(r#"emails.type ne "home""#);
    yes(r#"emails[type ne "home"]"#);
    no(r#"emails[type eq "fax"]"#);
}

#[test]
fn null_means_absent() {
    no("title eq null");
    yes("title ne null");
    yes("nickName pr and not (displayName eq null)");
    let mut doc = bjensen();
    doc["title"] = Value::Null;
    doc["nickName"] = json!("");
    doc["emails"] = json!([]);
    doc["name"] = json!({});
    doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"] = json!({"value": ""});
    for filter in ["title pr", "nickName pr", "emails pr", "name pr", "manager.value pr", "timezoneX pr"] {
        let expected = if filter.starts_with("timezoneX") { None } else { Some(false) };
        assert_eq!(check(filter, &doc).ok(), expected, "{filter}");
    }
    assert_eq!(check("title eq null", &doc), Ok(true));
    assert_eq!(check("emails eq null", &doc), Ok(true));
    assert_eq!(check("emails ne null", &doc), Ok(false));
    assert!(invalid("title gt null").contains("null"));
    assert!(invalid("title co null").contains("title"));
}

#[test]
fn booleans() {
    yes("active eq true");
    no("active eq false");
    yes("active ne false");
    yes(r#"emails[primary eq true].value eq "bjensen@example.com""#);
    no(r#"emails[primary eq true].value eq "babs@jensen.org""#);
    let detail = invalid("active gt true");
    assert!(detail.contains("active") && detail.contains("boolean") && detail.contains("gt"), "{detail}");
    let detail = invalid(r#"active eq "x""#);
    assert!(detail.contains("active") && detail.contains("true or false"), "{detail}");
    let mut doc = bjensen();
    doc["active"] = json!("true");
    assert_eq!(check("active eq true", &doc), Ok(false));
}

#[test]
fn wrong_value_types_are_errors() {
    let detail = invalid("userName gt 5");
    assert!(detail.contains("userName") && detail.contains("string"), "{detail}");
    let detail = invalid("userName eq true");
    assert!(detail.contains("userName"), "{detail}");
    let detail = invalid("meta.created gt 5");
    assert!(detail.contains("meta.created") && detail.contains("date-time"), "{detail}");
    let detail = invalid(r#"meta.created gt "yesterday""#);
    assert!(detail.contains("RFC 3339"), "{detail}");
    let detail = invalid(r#"meta.created co "2010""#);
    assert!(detail.contains("co") && detail.contains("strings"), "{detail}");
    let detail = invalid(r#"name eq "Barbara""#);
    assert!(detail.contains("complex"), "{detail}");
}

#[test]
fn date_times_compare_instants() {
    yes(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#);
    yes(r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#);
    yes(r#"meta.created lt "2011-01-01T00:00:00Z" and meta.created gt "2010-01-23T04:56:21Z""#);
    yes(r#"lastAccess eq "2024-03-01T11:00:00Z""#);
    yes(r#"urn:ietf:params:scim:schemas:extension:scimd:2.0:User:lastAccess gt "2024-01-01T00:00:00Z""#);
    let mut doc = bjensen();
    doc["meta"]["created"] = json!("not a date");
    assert_eq!(check(r#"meta.created lt "2030-01-01T00:00:00Z""#, &doc), Ok(false));
    assert_eq!(check(r#"meta.created ne "2030-01-01T00:00:00Z""#, &doc), Ok(true));
}

#[test]
fn numbers_compare_numerically() {
    let mut registry = Registry::builtin();
    registry
        .add_extension(
            ResourceKind::User,
            r#"{"id": "urn:example:params:scim:schemas:extension:game:2.0:User", "attributes": [
                {"name": "level", "type": "integer"},
                {"name": "score", "type": "decimal"},
                {"name": "badges", "type": "integer", "multiValued": true}
            ]}"#,
        )
        .expect("extension");
    let doc = json!({"urn:example:params:scim:schemas:extension:game:2.0:User": {
        "level": 10, "score": 2.5, "badges": [1, 7, 30]
    }});
    let check =
        |filter: &str| matches(&parse_filter(filter).expect("parses"), &registry.user, &doc).map_err(|e| e.detail);
    assert_eq!(check("level eq 10"), Ok(true));
    assert_eq!(check("level eq 10.0"), Ok(true));
    assert_eq!(check("level gt 9.5"), Ok(true));
    assert_eq!(check("level lt 9"), Ok(false));
    assert_eq!(check("score ge 2.5 and score le 2.5"), Ok(true));
    assert_eq!(check("score gt 1e1"), Ok(false));
    assert_eq!(check("badges eq 7"), Ok(true));
    assert_eq!(check("badges gt 29"), Ok(true));
    assert_eq!(check("badges ne 7"), Ok(false));
    assert_eq!(check("badges pr"), Ok(true));
    assert!(check(r#"level eq "10""#).expect_err("string for an integer").contains("a number"));
    assert!(check("level co 1").expect_err("co on a number").contains("co"));
}

#[test]
fn multi_valued_attributes() {
    yes(r#"emails co "jensen.org""#);
    yes(r#"emails.value ew ".ORG""#);
    yes(r#"phoneNumbers eq "555-555-4444""#);
    yes(r#"emails.type eq "home" and emails.value co "@example.com""#);
    // …but one element must satisfy the whole value filter.
    no(r#"emails[type eq "home" and value co "@example.com"]"#);
    yes(r#"emails[type eq "home" or value co "@nowhere"]"#);
    yes(r#"emails[not(type eq "work")]"#);
    yes(r#"addresses[type eq "work" and postalCode sw "916"]"#);
    yes(r#"groups.display eq "tour guides""#);
    yes(r#"name[givenName eq "Barbara"]"#);
}

#[test]
fn value_path_with_trailing_test_uses_the_same_element() {
    yes(r#"emails[type eq "work"].value eq "bjensen@example.com""#);
    no(r#"emails[type eq "home"].value eq "bjensen@example.com""#);
    yes(r#"emails[type eq "home"].value pr"#);
    no(r#"emails[type eq "home"].primary pr"#);
    yes(r#"emails[type eq "work"].primary eq true"#);
    no(r#"emails[type eq "fax"].value ne "x""#);
}

#[test]
fn extension_attributes() {
    yes(r#"employeeNumber eq "701984""#);
    yes(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
    );
    yes(r#"manager.displayName sw "john""#);
    yes(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department co "tour""#);
    yes(r#"status eq "ACTIVE""#);
    no(r#"costCenter eq "4131""#);
    assert_eq!(check(r#"employeeNumber pr"#, &json!({"employeeNumber": "1"})), Ok(false));
}

#[test]
fn unknown_attributes_are_named() {
    assert!(invalid(r#"foo eq "x""#).contains("foo"));
    assert!(invalid("name.nickname pr").contains("nickname"));
    assert!(invalid(r#"emails[foo eq "x"]"#).contains("foo"));
    assert!(invalid(r#"emails[type eq "work"].bogus pr"#).contains("bogus"));
    assert!(invalid(r#"urn:example:nope:x pr"#).contains("urn:example:nope"));
    assert!(invalid(r#"userName[value eq "x"]"#).contains("userName"));
    assert!(invalid(r#"emails[emails.type eq "work"]"#).contains("emails.type"));
}

#[test]
fn groups() {
    let registry = Registry::builtin();
    let doc = json!({
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge", "type": "User"}
        ],
        "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"}
    });
    let check =
        |filter: &str| matches(&parse_filter(filter).expect("parses"), &registry.group, &doc).map_err(|e| e.detail);
    assert_eq!(check(r#"displayName eq "tour guides""#), Ok(true));
    assert_eq!(check(r#"members[value eq "902c246b-6245-4190-8e05-00816be7344a"]"#), Ok(true));
    assert_eq!(check(r#"members eq "2819c223-7f76-453a-919d-413861904646""#), Ok(true));
    assert_eq!(check(r#"members.display sw "mandy""#), Ok(true));
    assert_eq!(check(r#"meta.created lt "2011-01-01T00:00:00Z""#), Ok(true));
    assert!(check(r#"userName eq "x""#).expect_err("no userName on groups").contains("userName"));
}

#[test]
fn compiled_matchers_are_reusable() {
    let registry = Registry::builtin();
    let filter = parse_filter(r#"userName sw "b""#).expect("parses");
    let matcher = compile(&filter, &registry.user).expect("compiles");
    assert!(matcher.matches(&bjensen()));
    assert!(!matcher.matches(&json!({"userName": "alice"})));
    assert!(!matcher.matches(&json!(null)));
}
