//! The header row: which cell of a row holds which column.

use super::file_error;
use super::rows::Row;
use crate::ConnectorError;

/// The columns CSV knows, in report order (see [`super::REPORT_COLUMNS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    UserName,
    Email,
    UserId,
    GroupIdList,
    ActiveStatus,
}

impl Column {
    pub(crate) const ALL: [Column; 5] =
        [Column::UserName, Column::Email, Column::UserId, Column::GroupIdList, Column::ActiveStatus];

    pub(crate) fn name(self) -> &'static str {
        super::REPORT_COLUMNS[self as usize]
    }

    fn is_required(self) -> bool {
        matches!(self, Column::UserName | Column::Email | Column::UserId)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// The cell index of each column of [`Column::ALL`], None when the file lacks it.
    positions: [Option<usize>; 5],
    /// How many cells every row must have.
    width: usize,
}

impl Header {
    pub(crate) fn parse(row: &Row<'_>) -> Result<Self, ConnectorError> {
        if row.cells.as_slice().contains('\0') {
            return Err(file_error::utf16_without_bom());
        }
        let mut positions = [None; 5];
        for (position, column) in positions.iter_mut().zip(Column::ALL) {
            *position = find(row, column)?;
        }
        let missing: Vec<&str> = Column::ALL
            .into_iter()
            .filter(|column| column.is_required() && positions[*column as usize].is_none())
            .map(Column::name)
            .collect();
        if !missing.is_empty() {
            return Err(file_error::missing_columns(&missing));
        }
        Ok(Self { positions, width: row.cells.len() })
    }

    pub(crate) fn width(&self) -> usize {
        self.width
    }

    pub(crate) fn has(&self, column: Column) -> bool {
        self.positions[column as usize].is_some()
    }

    /// The raw cell of `column` in `row`: empty when the file lacks the column or the row is short.
    pub(crate) fn cell<'a>(&self, row: &'a ::csv::StringRecord, column: Column) -> &'a str {
        self.positions[column as usize].and_then(|index| row.get(index)).unwrap_or("")
    }
}

fn find(row: &Row<'_>, column: Column) -> Result<Option<usize>, ConnectorError> {
    let mut matches = row.cells.iter().enumerate().filter(|(_, name)| name.trim() == column.name()).map(|(i, _)| i);
    let first = matches.next();
    if matches.next().is_some() {
        return Err(file_error::repeated_column(column.name()));
    }
    Ok(first)
}
