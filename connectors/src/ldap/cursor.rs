//! The cursor between runs, as JSON text: OpenLDAP `{"modifyTimestamp":"20250101120000Z"}`, Active
//! Directory `{"highestCommittedUSN":12345}`. Both mark a point no later than the start of the run
//! that wrote them, so a change made while that run read the directory is read again, never lost.

use serde::{Deserialize, Serialize};

use crate::ConnectorError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cursor {
    OpenLdap {
        /// Generalized time, `YYYYMMDDHHMMSSZ`; entries with `modifyTimestamp` at or after it changed.
        #[serde(rename = "modifyTimestamp")]
        modify_timestamp: String,
    },
    ActiveDirectory {
        /// Entries with `uSNChanged` above it changed.
        #[serde(rename = "highestCommittedUSN")]
        highest_committed_usn: u64,
    },
}

impl Cursor {
    pub fn parse(text: &str) -> Result<Self, ConnectorError> {
        let cursor: Cursor = serde_json::from_str(text).map_err(|_| {
            ConnectorError::Source(format!("the stored cursor {text:?} is not an LDAP cursor: run a full sync"))
        })?;
        if let Cursor::OpenLdap { modify_timestamp } = &cursor
            && !is_generalized_time(modify_timestamp)
        {
            return Err(ConnectorError::Source(format!(
                "the stored cursor's modifyTimestamp {modify_timestamp:?} is not YYYYMMDDHHMMSSZ: run a full sync"
            )));
        }
        Ok(cursor)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a cursor serialises")
    }

    /// The filter term that keeps the entries changed since this cursor.
    pub fn changed_since_filter(&self) -> String {
        match self {
            Cursor::OpenLdap { modify_timestamp } => format!("(modifyTimestamp>={modify_timestamp})"),
            Cursor::ActiveDirectory { highest_committed_usn } => format!("(uSNChanged>={})", highest_committed_usn + 1),
        }
    }
}

/// `filter` narrowed to entries changed since `cursor`, or `filter` itself without one.
pub fn narrowed(filter: &str, cursor: Option<&Cursor>) -> String {
    match cursor {
        Some(cursor) => format!("(&{filter}{})", cursor.changed_since_filter()),
        None => filter.to_owned(),
    }
}

/// The generalized time `YYYYMMDDHHMMSSZ` of a timestamp or CSN (`20250101120000.123456Z#000000#000#000000`),
/// dropping fractions: `>=` on whole seconds reads a little again rather than missing anything.
pub fn whole_seconds(time: &str) -> Option<String> {
    let seconds = time.get(..14)?;
    seconds.bytes().all(|b| b.is_ascii_digit()).then(|| format!("{seconds}Z"))
}

fn is_generalized_time(text: &str) -> bool {
    text.len() == 15 && whole_seconds(text).as_deref() == Some(text)
}

#[cfg(test)]
mod tests {
    use super::{Cursor, narrowed, whole_seconds};

    #[test]
    fn round_trips_both_flavors() {
        let openldap = Cursor::OpenLdap { modify_timestamp: "20250101120000Z".into() };
        assert_eq!(openldap.to_json(), r#"{"modifyTimestamp":"20250101120000Z"}"#);
        assert_eq!(Cursor::parse(&openldap.to_json()).unwrap(), openldap);
        let ad = Cursor::ActiveDirectory { highest_committed_usn: 12345 };
        assert_eq!(ad.to_json(), r#"{"highestCommittedUSN":12345}"#);
        assert_eq!(Cursor::parse(&ad.to_json()).unwrap(), ad);
    }

    #[test]
    fn refuses_what_is_not_a_cursor() {
        assert!(Cursor::parse("").is_err());
        assert!(Cursor::parse(r#"{"deltaLink":"https://x"}"#).is_err());
        assert!(Cursor::parse(r#"{"modifyTimestamp":"2025)(uid=*"}"#).is_err());
    }

    #[test]
    fn narrows_filters_after_the_cursor() {
        let ad = Cursor::ActiveDirectory { highest_committed_usn: 99 };
        assert_eq!(narrowed("(objectClass=user)", Some(&ad)), "(&(objectClass=user)(uSNChanged>=100))");
        let openldap = Cursor::OpenLdap { modify_timestamp: "20250101120000Z".into() };
        assert_eq!(narrowed("(a=b)", Some(&openldap)), "(&(a=b)(modifyTimestamp>=20250101120000Z))");
        assert_eq!(narrowed("(a=b)", None), "(a=b)");
    }

    #[test]
    fn takes_whole_seconds_of_timestamps_and_csns() {
        assert_eq!(whole_seconds("20250101120000.123456Z#000000#000#000000").unwrap(), "20250101120000Z");
        assert_eq!(whole_seconds("20250101120000Z").unwrap(), "20250101120000Z");
        assert_eq!(whole_seconds("2025"), None);
    }
}
