//! The file-level failures (codes 2701–2705): each message says what is wrong and what to do.

use super::quotes::{QuoteProblem, QuoteProblemKind};
use crate::ConnectorError;

const SAVE_AS_UTF8: &str =
    "Save the file as UTF-8 (in Excel: Save As > \"CSV UTF-8 (Comma delimited)\") and upload it again.";

fn file_error(code: u16, name: &'static str, message: String) -> ConnectorError {
    ConnectorError::File { code, name, message }
}

pub(crate) fn malformed_quotes(problem: QuoteProblem) -> ConnectorError {
    let line = problem.line;
    let message = match problem.kind {
        QuoteProblemKind::Unterminated => format!(
            "line {line}: a quoted value starts here but its closing quote is missing, so the rest of the file \
             would be read as one value. Close the quote (write a quote inside a value as two quotes: \"\") and \
             upload the file again."
        ),
        QuoteProblemKind::TextAfterClosingQuote => format!(
            "line {line}: text follows the closing quote of a value. Quote the whole value (write a quote \
             inside a value as two quotes: \"\") and upload the file again."
        ),
    };
    file_error(2701, "CSV_PARSE_ERROR", message)
}

pub(crate) fn not_utf8(line: u64) -> ConnectorError {
    let message = format!("line {line} is not UTF-8 text (the file may be saved as EUC-KR or ANSI). {SAVE_AS_UTF8}");
    file_error(2702, "CSV_ENCODING_UNSUPPORTED", message)
}

pub(crate) fn utf16(byte_order: &str) -> ConnectorError {
    let message = format!("the file is UTF-16 ({byte_order}) text; only UTF-8 is supported. {SAVE_AS_UTF8}");
    file_error(2702, "CSV_ENCODING_UNSUPPORTED", message)
}

/// The header row holds NUL bytes: UTF-16 text saved without a byte order mark.
pub(crate) fn utf16_without_bom() -> ConnectorError {
    utf16("without a byte order mark")
}

pub(crate) fn missing_columns(missing: &[&str]) -> ConnectorError {
    let (noun, names) = match missing {
        [one] => ("column", (*one).to_owned()),
        several => ("columns", several.join(", ")),
    };
    let message = format!(
        "the header row has no {names} {noun}. The first row must name the columns UserName, Email and UserId \
         (GroupIdList and ActiveStatus are optional; names are case-sensitive). Download the template, keep its \
         header row and upload the file again."
    );
    file_error(2703, "CSV_HEADER_MISMATCH", message)
}

pub(crate) fn repeated_column(name: &str) -> ConnectorError {
    let message = format!(
        "the header row names the {name} column more than once. Keep one {name} column and upload the file again."
    );
    file_error(2703, "CSV_HEADER_MISMATCH", message)
}

pub(crate) fn no_header() -> ConnectorError {
    let message = "the file is empty. Fill in the template (a header row, then one row per user) and upload it \
                   again."
        .to_owned();
    file_error(2705, "CSV_FILE_EMPTY", message)
}

pub(crate) fn no_data_rows() -> ConnectorError {
    let message = "the file has a header row but no users. Add one row per user below the header and upload the \
                   file again."
        .to_owned();
    file_error(2705, "CSV_FILE_EMPTY", message)
}
