//! The SCIM filter language: syntax tree, parser (scim_v2's grammar behind our own tree) and the
//! in-memory evaluator that is the test oracle for the SQL compilers.

mod ast;
mod eval;
mod parse;

pub use ast::{AttrPath, CompValue, CompareOp, Filter};
pub use eval::{Matcher, compile, compile_element, matches};
pub use parse::{PatchPath, parse_filter, parse_path};
