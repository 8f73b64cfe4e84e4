//! A source read by a task of its own that hands items to the engine through a bounded channel, so
//! a slow engine holds back the source's requests instead of filling memory. Shared by the network
//! connectors (LDAP, Graph, Google).

use std::future::Future;

use futures_util::{StreamExt, stream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{ConnectorError, ItemStream, SourceItem};

/// Items in flight between the reader task and the engine.
const CHANNEL_CAPACITY: usize = 1024;

pub(crate) type Item = Result<SourceItem, ConnectorError>;

enum State<S, O> {
    NotStarted(S),
    Reading { items: mpsc::Receiver<Item>, task: JoinHandle<Result<O, ConnectorError>> },
    Done,
}

/// Streams what `read` sends. The task starts on the first poll, so building the stream needs no
/// runtime. When the task ends without an error its output goes to `ended`; its error, or a
/// panic (named after `source`), ends the stream as its last item.
pub(crate) fn spawned_stream<'a, S, Fut, O>(source: &'static str, read: S, ended: &'a mut Option<O>) -> ItemStream<'a>
where
    S: FnOnce(mpsc::Sender<Item>) -> Fut + Send + 'a,
    Fut: Future<Output = Result<O, ConnectorError>> + Send + 'static,
    O: Send + 'static,
{
    *ended = None;
    stream::unfold((State::NotStarted(read), ended), move |(mut state, ended)| async move {
        loop {
            state = match state {
                State::NotStarted(read) => {
                    let (sender, items) = mpsc::channel(CHANNEL_CAPACITY);
                    State::Reading { items, task: tokio::spawn(read(sender)) }
                }
                State::Reading { mut items, task } => {
                    if let Some(item) = items.recv().await {
                        return Some((item, (State::Reading { items, task }, ended)));
                    }
                    let error = match task.await {
                        Ok(Ok(output)) => {
                            *ended = Some(output);
                            return None;
                        }
                        Ok(Err(error)) => error,
                        Err(failure) => ConnectorError::Source(format!("the {source} reader stopped: {failure}")),
                    };
                    return Some((Err(error), (State::Done, ended)));
                }
                State::Done => return None,
            };
        }
    })
    .boxed()
}
