//! A data row becomes a user record, or a rejection that lists every problem found on it.

use ::csv::StringRecord;
use serde_json::Value;

use super::codes::{
    ACTIVE_STATUS_INVALID, CSV_RECORD_SIZE_MISMATCH, DUPLICATE_EMAIL, DUPLICATE_ID, EMAIL_INVALID, EMAIL_REQUIRED,
    USER_ID_INVALID, USER_ID_REQUIRED, USER_NAME_REQUIRED,
};
use super::email::is_email;
use super::header::{Column, Header};
use super::seen::SeenValues;
use crate::{Correlation, Field, GroupRef, Membership, Origin, Record, RecordKind, Rejected, SourceItem};

const EMAIL_VALUE_PATH: &str = r#"emails[type eq "work"].value"#;
const EMAIL_PRIMARY_PATH: &str = r#"emails[type eq "work"].primary"#;

pub(crate) struct RowChecker {
    header: Header,
    seen_user_ids: SeenValues,
    seen_emails: SeenValues,
}

impl RowChecker {
    pub(crate) fn new(header: Header) -> Self {
        Self { header, seen_user_ids: SeenValues::default(), seen_emails: SeenValues::default() }
    }

    /// Checks a data row; `line` is where it starts in the file. Rows are checked in file order,
    /// since a duplicate is any row after the first with the same UserId or Email.
    pub(crate) fn check(&mut self, line: u64, cells: &StringRecord) -> SourceItem {
        let values = Column::ALL.map(|column| self.header.cell(cells, column).to_owned()).to_vec();
        let origin = Origin { line, values };
        if cells.len() != self.header.width() {
            return reject(Vec::new(), vec![CSV_RECORD_SIZE_MISMATCH], origin);
        }

        let value = |column| self.header.cell(cells, column).trim();
        let (user_name, email, user_id) = (value(Column::UserName), value(Column::Email), value(Column::UserId));
        let mut errors = Vec::new();
        if user_name.is_empty() {
            errors.push(USER_NAME_REQUIRED);
        }
        let email_is_valid = check_address(email, EMAIL_REQUIRED, EMAIL_INVALID, &mut errors);
        let user_id_is_valid = check_address(user_id, USER_ID_REQUIRED, USER_ID_INVALID, &mut errors);
        let active = parse_active_status(value(Column::ActiveStatus));
        if active.is_none() {
            errors.push(ACTIVE_STATUS_INVALID);
        }
        if user_id_is_valid && !self.seen_user_ids.insert_ignoring_case(user_id) {
            errors.push(DUPLICATE_ID);
        }
        if email_is_valid && !self.seen_emails.insert_ignoring_case(email) {
            errors.push(DUPLICATE_EMAIL);
        }

        match active {
            Some(active) if errors.is_empty() => SourceItem::Record(Record {
                kind: RecordKind::User,
                key: email.to_lowercase(),
                name: None,
                fields: user_fields(user_name, email, user_id, active),
                correlate: vec![Correlation::Email(email.to_owned()), Correlation::UserName(user_id.to_owned())],
                references: Vec::new(),
                groups: self.header.has(Column::GroupIdList).then(|| memberships(value(Column::GroupIdList))),
                members: None,
                origin: Some(origin),
            }),
            _ => {
                // Valid values still name an existing user, whom the engine must not count as gone.
                let correlate = [
                    email_is_valid.then(|| Correlation::Email(email.to_owned())),
                    user_id_is_valid.then(|| Correlation::UserName(user_id.to_owned())),
                ];
                reject(correlate.into_iter().flatten().collect(), errors, origin)
            }
        }
    }
}

/// Records the error for an empty or malformed address; true when the address is valid.
fn check_address(value: &str, required: &'static str, invalid: &'static str, errors: &mut Vec<&'static str>) -> bool {
    if value.is_empty() {
        errors.push(required);
        false
    } else if !is_email(value) {
        errors.push(invalid);
        false
    } else {
        true
    }
}

/// `active`, from ACTIVE or INACTIVE in any case; empty means ACTIVE.
fn parse_active_status(value: &str) -> Option<bool> {
    if value.is_empty() || value.eq_ignore_ascii_case("ACTIVE") {
        Some(true)
    } else if value.eq_ignore_ascii_case("INACTIVE") {
        Some(false)
    } else {
        None
    }
}

fn user_fields(user_name: &str, email: &str, user_id: &str, active: bool) -> Vec<Field> {
    vec![
        field("userName", "displayName", user_name),
        field("userName", "name.formatted", user_name),
        field("email", EMAIL_VALUE_PATH, email),
        field("email", EMAIL_PRIMARY_PATH, true),
        field("userId", "userName", user_id),
        field("activeStatus", "active", active),
    ]
}

fn field(name: &str, path: &str, value: impl Into<Value>) -> Field {
    Field { name: name.to_owned(), path: path.to_owned(), value: value.into() }
}

/// GroupIdList holds group identifiers separated by spaces.
fn memberships(group_ids: &str) -> Membership {
    Membership {
        field: "groupIdList".to_owned(),
        groups: group_ids.split_whitespace().map(|id| GroupRef::ExternalIdOrName(id.to_owned())).collect(),
    }
}

fn reject(correlate: Vec<Correlation>, errors: Vec<&'static str>, origin: Origin) -> SourceItem {
    SourceItem::Rejected(Rejected {
        kind: RecordKind::User,
        correlate,
        errors: errors.into_iter().map(str::to_owned).collect(),
        origin: Some(origin),
    })
}
