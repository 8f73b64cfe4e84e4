use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tempfile::NamedTempFile;

use super::codes::{
    ACTIVE_STATUS_INVALID, CSV_RECORD_SIZE_MISMATCH, DUPLICATE_EMAIL, DUPLICATE_ID, EMAIL_INVALID, EMAIL_REQUIRED,
    USER_ID_INVALID, USER_ID_REQUIRED, USER_NAME_REQUIRED,
};
use super::{CsvSource, CsvSummary, REPORT_COLUMNS, inspect, records, template};
use crate::{
    Connector, ConnectorError, Correlation, Field, GroupRef, Membership, Origin, Record, RecordKind, Rejected,
    SourceItem,
};

const HEADER: &str = "UserName,Email,UserId,GroupIdList,ActiveStatus\n";

fn csv_file(bytes: &[u8]) -> NamedTempFile {
    let mut file = NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file.flush().unwrap();
    file
}

/// The items of a file whose header is followed by `rows`.
fn items_after_header(rows: &str) -> Vec<SourceItem> {
    items(format!("{HEADER}{rows}").as_bytes())
}

fn items(bytes: &[u8]) -> Vec<SourceItem> {
    let file = csv_file(bytes);
    records(file.path()).unwrap().collect::<Result<_, _>>().unwrap()
}

fn record(item: &SourceItem) -> &Record {
    match item {
        SourceItem::Record(record) => record,
        other => panic!("expected a record, got {other:?}"),
    }
}

fn rejected(item: &SourceItem) -> &Rejected {
    match item {
        SourceItem::Rejected(rejected) => rejected,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn errors(item: &SourceItem) -> Vec<&str> {
    rejected(item).errors.iter().map(String::as_str).collect()
}

fn field<'a>(record: &'a Record, path: &str) -> &'a Value {
    &record.fields.iter().find(|field| field.path == path).unwrap_or_else(|| panic!("no field {path}")).value
}

fn origin(item: &SourceItem) -> &Origin {
    match item {
        SourceItem::Record(record) => record.origin.as_ref().unwrap(),
        SourceItem::Rejected(rejected) => rejected.origin.as_ref().unwrap(),
        other => panic!("no origin on {other:?}"),
    }
}

/// The file-level error of `bytes`: from `inspect`, and the same from `records` (returned at once
/// or as the last item, after the rows before the problem).
fn file_error(bytes: &[u8]) -> (u16, &'static str, String) {
    let file = csv_file(bytes);
    let inspected = unwrap_file_error(inspect(file.path()).unwrap_err());
    let from_records = match records(file.path()) {
        Err(error) => error,
        Ok(items) => {
            let mut items: Vec<_> = items.collect();
            let last = items.pop().expect("an error item");
            assert!(items.iter().all(Result::is_ok), "only the last item is an error");
            last.unwrap_err()
        }
    };
    assert_eq!(unwrap_file_error(from_records), inspected);
    inspected
}

fn unwrap_file_error(error: ConnectorError) -> (u16, &'static str, String) {
    match error {
        ConnectorError::File { code, name, message } => (code, name, message),
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn a_valid_row_becomes_a_user_record() {
    let items = items_after_header("Hong Gildong,Hong@Example.com,hong.id@example.com,dept_001 dept_002,ACTIVE\n");
    let field = |name: &str, path: &str, value: Value| Field { name: name.into(), path: path.into(), value };
    let expected = Record {
        kind: RecordKind::User,
        key: "hong@example.com".into(),
        name: None,
        fields: vec![
            field("userName", "displayName", json!("Hong Gildong")),
            field("userName", "name.formatted", json!("Hong Gildong")),
            field("email", r#"emails[type eq "work"].value"#, json!("Hong@Example.com")),
            field("email", r#"emails[type eq "work"].primary"#, json!(true)),
            field("userId", "userName", json!("hong.id@example.com")),
            field("activeStatus", "active", json!(true)),
        ],
        correlate: vec![
            Correlation::Email("Hong@Example.com".into()),
            Correlation::UserName("hong.id@example.com".into()),
        ],
        references: Vec::new(),
        groups: Some(Membership {
            field: "groupIdList".into(),
            groups: vec![GroupRef::ExternalIdOrName("dept_001".into()), GroupRef::ExternalIdOrName("dept_002".into())],
        }),
        members: None,
        origin: Some(Origin {
            line: 2,
            values: ["Hong Gildong", "Hong@Example.com", "hong.id@example.com", "dept_001 dept_002", "ACTIVE"]
                .map(String::from)
                .to_vec(),
        }),
    };
    assert_eq!(items, [SourceItem::Record(expected)]);
}

#[test]
fn each_row_check_has_its_code() {
    let cases = [
        (",a@example.com,a@example.com,,", USER_NAME_REQUIRED),
        ("A,,a@example.com,,", EMAIL_REQUIRED),
        ("A,  ,a@example.com,,", EMAIL_REQUIRED),
        ("A,not-an-email,a@example.com,,", EMAIL_INVALID),
        ("A,a@example.com,,,", USER_ID_REQUIRED),
        ("A,a@example.com,a@example,,", USER_ID_INVALID),
        ("A,a@example.com,a@example.com,,SUSPENDED", ACTIVE_STATUS_INVALID),
        ("A,a@example.com,a@example.com,", CSV_RECORD_SIZE_MISMATCH),
        ("A,a@example.com,a@example.com,,ACTIVE,extra", CSV_RECORD_SIZE_MISMATCH),
    ];
    for (row, code) in cases {
        let items = items_after_header(&format!("{row}\n"));
        assert_eq!(errors(&items[0]), [code], "row {row:?}");
    }
}

#[test]
fn every_problem_of_a_row_is_listed_in_check_order() {
    let items = items_after_header(",,,,maybe\n ,bad,worse,,\n");
    assert_eq!(errors(&items[0]), [USER_NAME_REQUIRED, EMAIL_REQUIRED, USER_ID_REQUIRED, ACTIVE_STATUS_INVALID]);
    assert_eq!(errors(&items[1]), [USER_NAME_REQUIRED, EMAIL_INVALID, USER_ID_INVALID]);
    assert!(rejected(&items[0]).correlate.is_empty());
}

#[test]
fn a_size_mismatch_is_the_only_check_on_its_row() {
    let items = items_after_header(",bad,a@example.com\n");
    let rejected = rejected(&items[0]);
    assert_eq!(rejected.errors, [CSV_RECORD_SIZE_MISMATCH]);
    assert!(rejected.correlate.is_empty());
    assert_eq!(rejected.origin.as_ref().unwrap().values, ["", "bad", "a@example.com", "", ""]);
}

#[test]
fn a_rejected_row_still_names_the_user_by_its_valid_values() {
    let items = items_after_header(",a@example.com,id@example.com,,\n,bad,id2@example.com,,\n");
    assert_eq!(
        rejected(&items[0]).correlate,
        [Correlation::Email("a@example.com".into()), Correlation::UserName("id@example.com".into())]
    );
    assert_eq!(rejected(&items[1]).correlate, [Correlation::UserName("id2@example.com".into())]);
}

#[test]
fn the_first_of_duplicate_values_is_processed_and_later_ones_fail() {
    let items = items_after_header(
        "A,a@example.com,a@example.com,,\n\
         B,b@example.com,A@EXAMPLE.COM,,\n\
         C,A@Example.com,c@example.com,,\n\
         D,a@example.com,a@example.com,,\n",
    );
    assert_eq!(record(&items[0]).key, "a@example.com");
    assert_eq!(errors(&items[1]), [DUPLICATE_ID]);
    assert_eq!(errors(&items[2]), [DUPLICATE_EMAIL]);
    assert_eq!(errors(&items[3]), [DUPLICATE_ID, DUPLICATE_EMAIL]);
    assert_eq!(
        rejected(&items[3]).correlate,
        [Correlation::Email("a@example.com".into()), Correlation::UserName("a@example.com".into())]
    );
}

#[test]
fn only_valid_values_count_as_occurrences() {
    let items = items_after_header(
        "A,a@example,x@example.com,,\n\
         ,b@example.com,b@example.com,,\n\
         B,a@example.com,b@example.com,,\n",
    );
    assert_eq!(errors(&items[0]), [EMAIL_INVALID]);
    assert_eq!(errors(&items[1]), [USER_NAME_REQUIRED]);
    // The invalid a@example did not count; the valid, rejected b@example.com did.
    assert_eq!(errors(&items[2]), [DUPLICATE_ID]);
}

#[test]
fn values_are_trimmed_for_checks_and_fields_but_not_in_the_origin() {
    let items = items_after_header("  Hong Gildong ,  a@b.c , ID@b.c ,  g1   g2 , inactive \n");
    let record = record(&items[0]);
    assert_eq!(field(record, "displayName"), "Hong Gildong");
    assert_eq!(field(record, r#"emails[type eq "work"].value"#), "a@b.c");
    assert_eq!(field(record, "userName"), "ID@b.c");
    assert_eq!(field(record, "active"), false);
    assert_eq!(record.key, "a@b.c");
    assert_eq!(origin(&items[0]).values, ["  Hong Gildong ", "  a@b.c ", " ID@b.c ", "  g1   g2 ", " inactive "]);
}

#[test]
fn active_status_accepts_either_value_in_any_case_and_defaults_to_active() {
    let rows = ["ACTIVE", "active", "Active", "INACTIVE", "inactive", "InActive", "", "  "];
    let expected = [true, true, true, false, false, false, true, true];
    let body: String =
        rows.iter().enumerate().map(|(i, status)| format!("U,u{i}@example.com,u{i}@example.com,,{status}\n")).collect();
    let items = items_after_header(&body);
    let active: Vec<_> = items.iter().map(|item| field(record(item), "active").as_bool().unwrap()).collect();
    assert_eq!(active, expected);
}

#[test]
fn group_ids_are_split_on_runs_of_spaces() {
    let items = items_after_header("U,u@example.com,u@example.com,  dept_001    dept_002 dept_003  ,\n");
    let groups = &record(&items[0]).groups.as_ref().unwrap().groups;
    let expected: Vec<_> = ["dept_001", "dept_002", "dept_003"].map(|id| GroupRef::ExternalIdOrName(id.into())).into();
    assert_eq!(*groups, expected);
}

#[test]
fn an_empty_group_id_cell_means_no_groups_and_an_absent_column_means_not_managed() {
    let with_column = items_after_header("U,u@example.com,u@example.com,,\n");
    assert_eq!(record(&with_column[0]).groups, Some(Membership { field: "groupIdList".into(), groups: vec![] }));

    let without = items(b"UserName,Email,UserId\nU,u@example.com,u@example.com\n");
    let record = record(&without[0]);
    assert_eq!(record.groups, None);
    assert_eq!(field(record, "active"), true);
    assert_eq!(origin(&without[0]).values, ["U", "u@example.com", "u@example.com", "", ""]);
}

#[test]
fn columns_match_by_trimmed_name_in_any_order_and_unknown_ones_are_ignored() {
    let items = items(
        b" ActiveStatus ,Note,UserId,GroupIdList, Email,UserName \nINACTIVE,hi,id@example.com,g1,e@example.com,Kim\n",
    );
    let record = record(&items[0]);
    assert_eq!(field(record, "displayName"), "Kim");
    assert_eq!(field(record, "userName"), "id@example.com");
    assert_eq!(record.key, "e@example.com");
    assert_eq!(field(record, "active"), false);
    assert_eq!(origin(&items[0]).values, ["Kim", "e@example.com", "id@example.com", "g1", "INACTIVE"]);
}

#[test]
fn a_utf8_byte_order_mark_is_dropped() {
    let items = items(format!("\u{feff}{HEADER}홍길동,hong@example.com,hong@example.com,,\n").as_bytes());
    assert_eq!(field(record(&items[0]), "displayName"), "홍길동");
}

#[test]
fn quoted_values_keep_commas_line_breaks_and_quotes_exactly() {
    let body = "\"Hong, \"\"Gil\"\"\ndong\",a@example.com,a@example.com,\"g1 g2\",\n\
                Kim,b@example.com,b@example.com,,\n";
    let items = items_after_header(body);
    assert_eq!(origin(&items[0]).values[0], "Hong, \"Gil\"\ndong");
    assert_eq!(origin(&items[0]).values[3], "g1 g2");
    assert_eq!(origin(&items[0]).line, 2);
    assert_eq!(origin(&items[1]).line, 4, "the line after the two-line value");
}

#[test]
fn blank_lines_are_skipped_and_lines_stay_physical() {
    let body = "\n\nA,a@example.com,a@example.com,,\r\n,,,,\r\n   \r\nB,b@example.com,b@example.com,,\r\n\r\n\n";
    let file = csv_file(format!("\n{HEADER}{body}").as_bytes());
    let items: Vec<_> = records(file.path()).unwrap().map(Result::unwrap).collect();
    let lines: Vec<_> = items.iter().map(|item| origin(item).line).collect();
    assert_eq!(lines, [5, 8]);
    assert_eq!(inspect(file.path()).unwrap(), CsvSummary { rows: 2 });
}

#[test]
fn utf16_files_are_refused() {
    for (bom, order) in [(&b"\xFF\xFE"[..], "little-endian"), (&b"\xFE\xFF"[..], "big-endian")] {
        let mut bytes = bom.to_vec();
        bytes.extend(HEADER.encode_utf16().flat_map(u16::to_le_bytes));
        let (code, name, message) = file_error(&bytes);
        assert_eq!((code, name), (2702, "CSV_ENCODING_UNSUPPORTED"));
        assert!(message.contains(order) && message.contains("UTF-8"), "{message}");
    }
    let without_bom: Vec<u8> = HEADER.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(file_error(&without_bom).0, 2702);
}

#[test]
fn euc_kr_bytes_are_refused_at_their_line() {
    let mut bytes = format!("{HEADER}A,a@example.com,a@example.com,,\n").into_bytes();
    bytes.extend(b"\xc8\xab\xb1\xe6\xb5\xbf,b@example.com,b@example.com,,\n");
    let (code, name, message) = file_error(&bytes);
    assert_eq!((code, name), (2702, "CSV_ENCODING_UNSUPPORTED"));
    assert!(message.starts_with("line 3 "), "{message}");
}

#[test]
fn an_unterminated_quote_is_a_parse_error_at_its_line() {
    let bytes = format!("{HEADER}A,a@example.com,a@example.com,,\n\"B,b@example.com,b@example.com,,\nC,c,c,,\n");
    let (code, name, message) = file_error(bytes.as_bytes());
    assert_eq!((code, name), (2701, "CSV_PARSE_ERROR"));
    assert!(message.starts_with("line 3:") && message.contains("closing quote"), "{message}");

    let file = csv_file(bytes.as_bytes());
    let items: Vec<_> = records(file.path()).unwrap().collect();
    assert_eq!(items.len(), 2, "the row before the problem, then the error");
    assert!(matches!(items[0], Ok(SourceItem::Record(_))));
}

#[test]
fn text_after_a_closing_quote_is_a_parse_error() {
    let bytes = format!("{HEADER}\"Hong\" Gildong,a@example.com,a@example.com,,\n");
    let (code, _, message) = file_error(bytes.as_bytes());
    assert_eq!(code, 2701);
    assert!(message.starts_with("line 2:"), "{message}");
}

#[test]
fn a_missing_required_column_is_named() {
    let (code, name, message) = file_error(b"UserName,UserId,GroupIdList\nA,a@example.com,\n");
    assert_eq!((code, name), (2703, "CSV_HEADER_MISMATCH"));
    assert!(message.contains("no Email column"), "{message}");

    let (_, _, message) = file_error(b"email,userName,userId\nA,a@example.com,a@example.com\n");
    assert!(message.contains("no UserName, Email, UserId columns"), "{message}");
}

#[test]
fn a_column_named_twice_is_a_header_mismatch() {
    let (code, _, message) = file_error(b"UserName,Email,UserId,Email\nA,a@example.com,a@example.com,b@example.com\n");
    assert_eq!(code, 2703);
    assert!(message.contains("Email column more than once"), "{message}");
}

#[test]
fn a_file_without_data_rows_is_empty() {
    for bytes in [&b""[..], b"\n\r\n", b"\xEF\xBB\xBF", HEADER.as_bytes(), b"UserName,Email,UserId\n\n,,\n"] {
        let (code, name, _) = file_error(bytes);
        assert_eq!((code, name), (2705, "CSV_FILE_EMPTY"), "{bytes:?}");
    }
}

#[test]
fn inspect_counts_data_rows_valid_or_not() {
    let file = csv_file(format!("{HEADER}A,a@example.com,a@example.com,,\n\n,,,,\nbad\nB,b,b,,\n").as_bytes());
    assert_eq!(inspect(file.path()).unwrap(), CsvSummary { rows: 3 });
}

#[test]
fn the_template_is_a_valid_file_of_two_users() {
    assert!(template().starts_with(&format!("{}\n", REPORT_COLUMNS.join(","))));
    let file = csv_file(template().as_bytes());
    assert_eq!(inspect(file.path()).unwrap(), CsvSummary { rows: 2 });
    let items: Vec<_> = records(file.path()).unwrap().map(Result::unwrap).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(field(record(&items[1]), "active"), false);
}

#[test]
fn a_missing_file_is_an_io_error() {
    let path = Path::new("/nonexistent/users.csv");
    assert!(matches!(inspect(path), Err(ConnectorError::Io(_))));
    assert!(matches!(records(path).err(), Some(ConnectorError::Io(_))));
}

async fn read_all(path: PathBuf) -> Vec<Result<SourceItem, ConnectorError>> {
    let mut source = CsvSource::new(path);
    assert_eq!(source.kind(), "csv");
    let items = source.read(None).collect().await;
    assert_eq!(source.next_cursor(), None);
    items
}

#[tokio::test]
async fn read_streams_the_same_items_as_records() {
    let body: String = (0..3000)
        .map(|i| match i % 3 {
            0 => format!("User {i},u{i}@example.com,u{i}@example.com,g{} g{},\n", i % 7, i % 11),
            1 => format!(",u{i}@example.com,bad{i},,\n"),
            _ => format!("Dup,u{}@example.com,x{i}@example.com,,INACTIVE\n", i - 2),
        })
        .collect();
    let file = csv_file(format!("{HEADER}{body}").as_bytes());
    let expected: Vec<_> = records(file.path()).unwrap().map(Result::unwrap).collect();
    let streamed: Vec<_> = read_all(file.path().to_owned()).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(streamed.len(), 3000);
    assert_eq!(streamed, expected);
}

#[tokio::test]
async fn read_ends_with_the_file_error() {
    let file = csv_file(format!("{HEADER}A,a@example.com,a@example.com,,\n\"open\n").as_bytes());
    let items = read_all(file.path().to_owned()).await;
    assert_eq!(items.len(), 2);
    assert!(matches!(items[1], Err(ConnectorError::File { code: 2701, .. })));

    let header_only = csv_file(b"UserName,Email\n");
    let items = read_all(header_only.path().to_owned()).await;
    assert!(matches!(items[..], [Err(ConnectorError::File { code: 2703, .. })]));
}
