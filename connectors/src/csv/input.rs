//! Opening the file: a UTF-8 byte order mark is dropped, a UTF-16 one refused.

use std::fs::File;
use std::io::{Chain, Cursor, Read};
use std::path::Path;

use super::file_error;
use crate::ConnectorError;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const UTF16_LE_BOM: &[u8] = b"\xFF\xFE";
const UTF16_BE_BOM: &[u8] = b"\xFE\xFF";

/// The file's bytes after any UTF-8 byte order mark.
pub(crate) type Input = Chain<Cursor<Vec<u8>>, File>;

pub(crate) fn open(path: &Path) -> Result<Input, ConnectorError> {
    let mut file = File::open(path)?;
    let mut start = Vec::with_capacity(UTF8_BOM.len());
    Read::by_ref(&mut file).take(UTF8_BOM.len() as u64).read_to_end(&mut start)?;
    if start.starts_with(UTF16_LE_BOM) {
        return Err(file_error::utf16("little-endian"));
    }
    if start.starts_with(UTF16_BE_BOM) {
        return Err(file_error::utf16("big-endian"));
    }
    if start == UTF8_BOM {
        start.clear();
    }
    Ok(Cursor::new(start).chain(file))
}
