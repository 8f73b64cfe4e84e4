//! Protocol-faithful local servers for the cloud connectors: no internet here, so the tests and
//! benchmarks run the real connector code against these, with only the base and token URLs changed.
//! Both are stateful (tests change the directory between runs) and inject faults on request.

pub mod google;
pub mod graph;
