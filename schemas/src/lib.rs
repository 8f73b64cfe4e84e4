//! Pure SCIM 2.0 (RFC 7643/7644): resource schemas, the filter language, PATCH, validation and
//! projection. No I/O: the server crate brings storage and HTTP.

pub mod bulk;
pub mod error;
pub mod filter;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimResult, ScimType};
