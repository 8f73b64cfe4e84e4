//! The SCIM filter language: syntax tree, parser (scim_v2's grammar behind our own tree) and the
//! in-memory evaluator that is the test oracle for the SQL compilers.

mod ast;

pub use ast::{AttrPath, CompValue, CompareOp, Filter};
