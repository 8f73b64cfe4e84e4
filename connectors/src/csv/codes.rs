//! The error codes a rejected row carries, in the order they are checked.

/// The row has more or fewer cells than the header; no other check runs on it.
pub const CSV_RECORD_SIZE_MISMATCH: &str = "CSV_RECORD_SIZE_MISMATCH";
pub const USER_NAME_REQUIRED: &str = "USER_NAME_REQUIRED";
pub const EMAIL_REQUIRED: &str = "EMAIL_REQUIRED";
pub const EMAIL_INVALID: &str = "EMAIL_INVALID";
pub const USER_ID_REQUIRED: &str = "USER_ID_REQUIRED";
pub const USER_ID_INVALID: &str = "USER_ID_INVALID";
/// ActiveStatus is neither ACTIVE nor INACTIVE (in any case).
pub const ACTIVE_STATUS_INVALID: &str = "ACTIVE_STATUS_INVALID";
/// An earlier row of the file has the same UserId, ignoring case.
pub const DUPLICATE_ID: &str = "DUPLICATE_ID";
/// An earlier row of the file has the same Email, ignoring case.
pub const DUPLICATE_EMAIL: &str = "DUPLICATE_EMAIL";
