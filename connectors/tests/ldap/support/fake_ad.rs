//! An in-process LDAP server that behaves like Active Directory where Samba does not: it caps
//! pages at its MaxPageSize whatever page size is asked, and hands out `member` in ranges of at
//! most its MaxValRange values even when the whole attribute is asked for. It serves binds, the
//! root DSE, and base and (paged) subtree searches over a fixed list of entries.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindResponse, LdapFilter, LdapMsg, LdapOp, LdapPartialAttribute, LdapResult, LdapResultCode, LdapSearchRequest,
    LdapSearchResultEntry, LdapSearchScope,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{FramedRead, FramedWrite};

pub const NAMING_CONTEXT: &str = "DC=fake,DC=test";
const HIGHEST_COMMITTED_USN: &str = "4242";
const MEMBER: &str = "member";

pub struct FakeEntry {
    pub dn: String,
    pub attributes: Vec<(String, Vec<Vec<u8>>)>,
}

impl FakeEntry {
    pub fn new(dn: impl Into<String>) -> Self {
        Self { dn: dn.into(), attributes: Vec::new() }
    }

    pub fn with(mut self, attribute: &str, values: impl IntoIterator<Item = impl Into<Vec<u8>>>) -> Self {
        self.attributes.push((attribute.to_owned(), values.into_iter().map(Into::into).collect()));
        self
    }

    fn values(&self, attribute: &str) -> Option<&[Vec<u8>]> {
        self.attributes.iter().find(|(name, _)| name.eq_ignore_ascii_case(attribute)).map(|(_, values)| &values[..])
    }
}

/// How the server answers a request for a range of `member` values after the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaterRanges {
    /// The values asked for, at most MaxValRange of them.
    Served,
    /// The first range again, as if the server had lost its place.
    RepeatFirst,
    /// No `member` attribute at all, as if the group had emptied meanwhile.
    Missing,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries per page at most, whatever the client asks for; an unpaged search that finds more
    /// stops there with sizeLimitExceeded.
    pub max_page_size: usize,
    /// `member` values per response at most; a longer list is always sent in ranges.
    pub max_value_range: usize,
    pub later_ranges: LaterRanges,
}

impl Default for Limits {
    /// Active Directory's defaults.
    fn default() -> Self {
        Self { max_page_size: 1000, max_value_range: 1500, later_ranges: LaterRanges::Served }
    }
}

/// What the server sent, for tests to check that the limits were met.
#[derive(Debug, Default)]
pub struct Served {
    /// The number of entries in each page of each subtree search.
    pub pages: Vec<usize>,
    /// Each `member` attribute description sent (`member;range=0-999`).
    pub member_ranges: Vec<String>,
}

pub struct FakeAd {
    pub url: String,
    served: Arc<Mutex<Served>>,
}

impl FakeAd {
    /// Serves `entries` until the test's runtime ends.
    pub async fn start(entries: Vec<FakeEntry>, limits: Limits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a local port");
        let url = format!("ldap://{}", listener.local_addr().expect("a bound address"));
        let served = Arc::new(Mutex::new(Served::default()));
        let directory = Arc::new(Directory { entries, limits, served: Arc::clone(&served) });
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&directory)));
            }
        });
        Self { url, served }
    }

    pub fn served(&self) -> std::sync::MutexGuard<'_, Served> {
        self.served.lock().expect("the log is not poisoned")
    }
}

struct Directory {
    entries: Vec<FakeEntry>,
    limits: Limits,
    served: Arc<Mutex<Served>>,
}

async fn serve(socket: TcpStream, directory: Arc<Directory>) {
    let (reader, writer) = tokio::io::split(socket);
    let mut requests = FramedRead::new(reader, LdapCodec::default());
    let mut responses = FramedWrite::new(writer, LdapCodec::default());
    while let Some(Ok(request)) = requests.next().await {
        let answers = match request.op {
            LdapOp::BindRequest(_) => {
                vec![reply(request.msgid, LdapOp::BindResponse(LdapBindResponse { res: success(), saslcreds: None }))]
            }
            LdapOp::SearchRequest(search) => directory.search(request.msgid, &search, &request.ctrl),
            LdapOp::UnbindRequest => return,
            _ => continue,
        };
        for answer in answers {
            if responses.feed(answer).await.is_err() {
                return;
            }
        }
        if responses.flush().await.is_err() {
            return;
        }
    }
}

impl Directory {
    fn search(&self, msgid: i32, search: &LdapSearchRequest, controls: &[LdapControl]) -> Vec<LdapMsg> {
        if search.scope == LdapSearchScope::Base && search.base.is_empty() {
            let root = FakeEntry::new("")
                .with("defaultNamingContext", [NAMING_CONTEXT])
                .with("namingContexts", [NAMING_CONTEXT])
                .with("highestCommittedUSN", [HIGHEST_COMMITTED_USN]);
            return vec![self.entry_message(msgid, &root, &search.attrs), done(msgid, result(LdapResultCode::Success))];
        }
        if search.scope == LdapSearchScope::Base {
            if let Some(entry) = self.entries.iter().find(|entry| entry.dn.eq_ignore_ascii_case(&search.base)) {
                return vec![self.entry_message(msgid, entry, &search.attrs), done(msgid, success())];
            }
            // Any other DN in the domain is taken for a container (an OU the connector searches under).
            let domain = format!(",{}", NAMING_CONTEXT.to_ascii_lowercase());
            if search.base.to_ascii_lowercase().ends_with(&domain) {
                let container = FakeEntry::new(search.base.clone());
                return vec![self.entry_message(msgid, &container, &search.attrs), done(msgid, success())];
            }
            return vec![done(msgid, result(LdapResultCode::NoSuchObject))];
        }
        let suffix = format!(",{}", search.base.to_ascii_lowercase());
        let found: Vec<&FakeEntry> = self
            .entries
            .iter()
            .filter(|entry| entry.dn.to_ascii_lowercase().ends_with(&suffix) && matches(entry, &search.filter))
            .collect();
        let paging = controls.iter().find_map(|control| match control {
            LdapControl::SimplePagedResults { size, cookie } => Some((*size, cookie.clone())),
            _ => None,
        });
        let Some((asked_size, cookie)) = paging else {
            let limit = self.limits.max_page_size;
            let mut answers: Vec<LdapMsg> =
                found.iter().take(limit).map(|entry| self.entry_message(msgid, entry, &search.attrs)).collect();
            let code = if found.len() > limit { LdapResultCode::SizeLimitExceeded } else { LdapResultCode::Success };
            answers.push(done(msgid, result(code)));
            return answers;
        };
        let Some(start) = (if cookie.is_empty() { Some(0) } else { parse_cookie(&cookie) }) else {
            return vec![done(msgid, result(LdapResultCode::UnwillingToPerform))];
        };
        let page_size = usize::try_from(asked_size).unwrap_or(0).clamp(1, self.limits.max_page_size);
        let page: Vec<&FakeEntry> = found.iter().skip(start).take(page_size).copied().collect();
        self.served().pages.push(page.len());
        let next = start + page.len();
        let next_cookie = if next < found.len() { next.to_string().into_bytes() } else { Vec::new() };
        let mut answers: Vec<LdapMsg> =
            page.into_iter().map(|entry| self.entry_message(msgid, entry, &search.attrs)).collect();
        let mut last = done(msgid, result(LdapResultCode::Success));
        last.ctrl.push(LdapControl::SimplePagedResults { size: 0, cookie: next_cookie });
        answers.push(last);
        answers
    }

    fn served(&self) -> std::sync::MutexGuard<'_, Served> {
        self.served.lock().expect("the log is not poisoned")
    }

    /// The entry with the asked attributes (all of them when none is named); `member` goes in a
    /// range when it is asked for one or when it has more values than MaxValRange.
    fn entry_message(&self, msgid: i32, entry: &FakeEntry, asked: &[String]) -> LdapMsg {
        let mut attributes = Vec::new();
        let all = asked.is_empty() || asked.iter().any(|name| name == "*");
        for (name, values) in &entry.attributes {
            if name.eq_ignore_ascii_case(MEMBER) {
                let range = asked.iter().find_map(|asked| asked_member_range(asked));
                let plain = all || asked.iter().any(|asked| asked.eq_ignore_ascii_case(MEMBER));
                if let Some(low) = range.or(plain.then_some(0)) {
                    attributes.extend(self.member_range(values, low));
                }
            } else if all || asked.iter().any(|asked| asked.eq_ignore_ascii_case(name)) {
                attributes.push(LdapPartialAttribute { atype: name.clone(), vals: values.clone() });
            }
        }
        reply(msgid, LdapOp::SearchResultEntry(LdapSearchResultEntry { dn: entry.dn.clone(), attributes }))
    }

    /// The `member` values from `asked_low` on, or None when the server is to leave them out.
    fn member_range(&self, members: &[Vec<u8>], asked_low: usize) -> Option<LdapPartialAttribute> {
        let step = self.limits.max_value_range;
        if asked_low == 0 && members.len() <= step {
            return Some(LdapPartialAttribute { atype: MEMBER.to_owned(), vals: members.to_vec() });
        }
        let low = match self.limits.later_ranges {
            LaterRanges::Served => asked_low,
            LaterRanges::RepeatFirst => 0,
            LaterRanges::Missing if asked_low > 0 => return None,
            LaterRanges::Missing => 0,
        };
        let high = (low + step).min(members.len());
        let description = if high == members.len() {
            format!("{MEMBER};range={low}-*")
        } else {
            format!("{MEMBER};range={low}-{}", high - 1)
        };
        self.served().member_ranges.push(description.clone());
        Some(LdapPartialAttribute { atype: description, vals: members.get(low..high).unwrap_or_default().to_vec() })
    }
}

/// The low end of `member;range=low-high` (or `low-*`).
fn asked_member_range(description: &str) -> Option<usize> {
    let (name, range) = description.split_once(";range=")?;
    if !name.eq_ignore_ascii_case(MEMBER) {
        return None;
    }
    range.split_once('-')?.0.parse().ok()
}

fn parse_cookie(cookie: &[u8]) -> Option<usize> {
    std::str::from_utf8(cookie).ok()?.parse().ok()
}

fn matches(entry: &FakeEntry, filter: &LdapFilter) -> bool {
    let text = |value: &Vec<u8>| String::from_utf8_lossy(value).into_owned();
    match filter {
        LdapFilter::And(all) => all.iter().all(|filter| matches(entry, filter)),
        LdapFilter::Or(any) => any.iter().any(|filter| matches(entry, filter)),
        LdapFilter::Not(filter) => !matches(entry, filter),
        LdapFilter::Present(attribute) => entry.values(attribute).is_some(),
        LdapFilter::Equality(attribute, wanted) => {
            entry.values(attribute).unwrap_or_default().iter().any(|value| text(value).eq_ignore_ascii_case(wanted))
        }
        LdapFilter::GreaterOrEqual(attribute, bound) => {
            let bound: u64 = bound.parse().unwrap_or(u64::MAX);
            entry
                .values(attribute)
                .unwrap_or_default()
                .iter()
                .any(|value| text(value).parse().is_ok_and(|v: u64| v >= bound))
        }
        _ => false,
    }
}

fn reply(msgid: i32, op: LdapOp) -> LdapMsg {
    LdapMsg { msgid, op, ctrl: Vec::new() }
}

fn done(msgid: i32, result: LdapResult) -> LdapMsg {
    reply(msgid, LdapOp::SearchResultDone(result))
}

fn result(code: LdapResultCode) -> LdapResult {
    LdapResult { code, matcheddn: String::new(), message: String::new(), referral: Vec::new() }
}

fn success() -> LdapResult {
    result(LdapResultCode::Success)
}
