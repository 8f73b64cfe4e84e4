//! The file's data rows, one [`SourceItem`] each, until the end or the first file-level error.

use std::io::Read;

use super::file_error;
use super::row_check::RowChecker;
use super::rows::RowReader;
use crate::{ConnectorError, SourceItem};

pub(crate) struct Records<R> {
    rows: RowReader<R>,
    checker: RowChecker,
    data_rows: u64,
    finished: bool,
}

impl<R: Read> Records<R> {
    pub(crate) fn new(rows: RowReader<R>, checker: RowChecker) -> Self {
        Self { rows, checker, data_rows: 0, finished: false }
    }

    fn next_item(&mut self) -> Option<Result<SourceItem, ConnectorError>> {
        loop {
            match self.rows.next_row() {
                Err(error) => return Some(Err(error)),
                Ok(None) => return (self.data_rows == 0).then(|| Err(file_error::no_data_rows())),
                Ok(Some(row)) if row.is_blank() => {}
                Ok(Some(row)) => {
                    self.data_rows += 1;
                    return Some(Ok(self.checker.check(row.line, row.cells)));
                }
            }
        }
    }
}

impl<R: Read> Iterator for Records<R> {
    type Item = Result<SourceItem, ConnectorError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = self.next_item();
        self.finished = !matches!(item, Some(Ok(_)));
        item
    }
}
