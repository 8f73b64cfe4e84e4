//! CSV bulk registration: a file of users, one per row, under a header row naming the columns
//! (any order; unknown columns are ignored):
//!
//! | column | | record |
//! |---|---|---|
//! | `UserName` | required | `displayName` and `name.formatted` |
//! | `Email` | required, an email | the work email (primary); lower-cased, the record's key |
//! | `UserId` | required, an email | `userName` |
//! | `GroupIdList` | optional | groups by externalId or name, separated by spaces |
//! | `ActiveStatus` | optional | `ACTIVE` (default) or `INACTIVE`, any case |
//!
//! The file must be UTF-8 (a byte order mark is allowed) with RFC 4180 quoting. A row that fails a
//! check becomes a [`Rejected`](crate::Rejected) item with the [`codes`] found; a file that cannot be
//! used at all fails with [`ConnectorError::File`]. [`inspect`] finds those before a run starts.

pub mod codes;
mod email;
mod file_error;
mod header;
mod input;
mod quotes;
mod records;
mod row_check;
mod rows;
mod seen;
mod source;
#[cfg(test)]
mod tests;

use std::path::Path;

pub use source::CsvSource;

use self::records::Records;
use self::row_check::RowChecker;
use self::rows::RowReader;
use crate::{ConnectorError, SourceItem};

/// The columns of a result file, which repeats each row's values in this order.
pub const REPORT_COLUMNS: [&str; 5] = ["UserName", "Email", "UserId", "GroupIdList", "ActiveStatus"];

const TEMPLATE: &str = "\
UserName,Email,UserId,GroupIdList,ActiveStatus
Hong Gildong,hong@example.com,hong@example.com,dept_001 dept_002,ACTIVE
Kim Chulsoo,kim@example.com,kim@example.com,dept_003,INACTIVE
";

/// The file users download to fill in: the header row and two example rows.
pub fn template() -> &'static str {
    TEMPLATE
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvSummary {
    /// Data rows: every row after the header that is not blank, valid or not.
    pub rows: u64,
}

/// Reads the whole file once, in constant memory, and fails with the first file-level error
/// (codes 2701–2705), so a bad file is refused before any row is written.
pub fn inspect(path: &Path) -> Result<CsvSummary, ConnectorError> {
    let mut rows = RowReader::new(input::open(path)?);
    rows.read_header()?;
    let mut data_rows = 0;
    while let Some(row) = rows.next_row()? {
        if !row.is_blank() {
            data_rows += 1;
        }
    }
    if data_rows == 0 {
        return Err(file_error::no_data_rows());
    }
    Ok(CsvSummary { rows: data_rows })
}

/// The file's data rows in order, one item each. Fails at once when the file cannot be opened or
/// its header is unusable; a file-level error found later is the last item.
pub fn records(
    path: &Path,
) -> Result<impl Iterator<Item = Result<SourceItem, ConnectorError>> + Send + use<>, ConnectorError> {
    let mut rows = RowReader::new(input::open(path)?);
    let header = rows.read_header()?;
    Ok(Records::new(rows, RowChecker::new(header)))
}
