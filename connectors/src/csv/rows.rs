//! Raw rows: the `csv` parser, with the quoting and encoding checks that make a file unusable.

use std::io::Read;

use ::csv::{ErrorKind, Reader, ReaderBuilder, StringRecord};

use super::file_error;
use super::header::Header;
use super::quotes::QuoteTracker;
use crate::ConnectorError;

const BUFFER_BYTES: usize = 64 * 1024;

/// One parsed record of the file, header included.
pub(crate) struct Row<'a> {
    /// The 1-based physical line the record starts on.
    pub line: u64,
    pub cells: &'a StringRecord,
}

impl Row<'_> {
    /// A record of empty (or blank) cells is not a data row.
    pub(crate) fn is_blank(&self) -> bool {
        self.cells.iter().all(|cell| cell.trim().is_empty())
    }
}

pub(crate) struct RowReader<R> {
    parser: Reader<QuoteTracker<R>>,
    record: StringRecord,
    records_read: u64,
}

impl<R: Read> RowReader<R> {
    pub(crate) fn new(input: R) -> Self {
        let parser = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(BUFFER_BYTES)
            .from_reader(QuoteTracker::new(input));
        Self { parser, record: StringRecord::new(), records_read: 0 }
    }

    /// The first record that is not blank, as the header.
    pub(crate) fn read_header(&mut self) -> Result<Header, ConnectorError> {
        while let Some(row) = self.next_row()? {
            if !row.is_blank() {
                return Header::parse(&row);
            }
        }
        Err(file_error::no_header())
    }

    /// The next record, blank ones included; None at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row<'_>>, ConnectorError> {
        let is_utf8 = match self.parser.read_record(&mut self.record) {
            Ok(false) => return self.at_end(),
            Ok(true) => true,
            Err(error) => match error.into_kind() {
                ErrorKind::Io(error) => return Err(error.into()),
                ErrorKind::Utf8 { .. } => false,
                other => return Err(ConnectorError::Source(format!("cannot parse the CSV file: {other:?}"))),
            },
        };
        let index = self.records_read;
        self.records_read += 1;
        // The tracker sees every record the parser yields; the parser's own line, which lags behind
        // skipped blank lines, is only a fallback.
        let line = self.parser.get_mut().take_record_line().unwrap_or_else(|| self.parser.position().line());
        // A quoting problem comes first: it shifts the cells, and with them any encoding error.
        if let Some(problem) = self.parser.get_ref().problem()
            && problem.record <= index
        {
            return Err(file_error::malformed_quotes(problem));
        }
        if !is_utf8 {
            return Err(file_error::not_utf8(line));
        }
        Ok(Some(Row { line, cells: &self.record }))
    }

    fn at_end(&self) -> Result<Option<Row<'_>>, ConnectorError> {
        match self.parser.get_ref().problem() {
            Some(problem) => Err(file_error::malformed_quotes(problem)),
            None => Ok(None),
        }
    }
}
