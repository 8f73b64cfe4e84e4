//! The cursor between runs: the `@odata.deltaLink`s that ended the last run's delta rounds, as JSON
//! text `{"usersDeltaLink": "…", "groupsDeltaLink": "…"}` (no groups link when groups are not read).
//! The engine stores it only after the run commits, so a failed run is read again from the old one.

use serde::{Deserialize, Serialize};

use crate::ConnectorError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cursor {
    pub users_delta_link: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_delta_link: Option<String>,
}

impl Cursor {
    pub fn parse(text: &str) -> Result<Self, ConnectorError> {
        serde_json::from_str(text).map_err(|_| {
            ConnectorError::Source("the stored cursor is not a Graph cursor (delta links): run a full sync".to_owned())
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a cursor serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn round_trips_and_refuses_other_cursors() {
        let cursor = Cursor {
            users_delta_link: "https://g/u?$deltatoken=1".into(),
            groups_delta_link: Some("https://g/g".into()),
        };
        assert_eq!(Cursor::parse(&cursor.to_json()).unwrap(), cursor);
        let users_only = Cursor { groups_delta_link: None, ..cursor };
        assert_eq!(users_only.to_json(), r#"{"usersDeltaLink":"https://g/u?$deltatoken=1"}"#);
        assert!(Cursor::parse(r#"{"modifyTimestamp":"20250101120000Z"}"#).is_err());
        assert!(Cursor::parse("").is_err());
    }
}
