//! The lease on a run in progress: whoever runs it (a worker, `homeroom
//! serve`, the command line) renews it while the run reads, with the run's
//! progress, so a process that dies leaves a run whose lease runs out,
//! which any worker then fails as abandoned and queues again
//! (`store::jobs::reap_abandoned`). A lease that is no longer this
//! holder's (it ran out and the run was taken over) stops the read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::Store;
use crate::store::jobs::after;

/// Who holds the leases of the runs an engine runs, and for how long.
#[derive(Debug, Clone)]
pub struct Holder {
    /// Shown beside each run it runs (`host-1234`, `worker-b`).
    pub id: String,
    /// Seconds a lease lasts unrenewed; it is renewed four times as often.
    pub secs: f64,
}

impl Holder {
    /// This process, under a name for what it is (`serve`, `cli`, `worker`).
    pub fn this_process(role: &str) -> Holder {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".into());
        // A few random letters besides: a container restarted under the
        // same host name and process id is not its dead predecessor.
        let tag: String = {
            use rand::Rng;
            let mut rng = rand::thread_rng();
            (0..4)
                .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
                .collect()
        };
        Holder {
            id: format!("{role}-{host}-{}-{tag}", std::process::id()),
            secs: DEFAULT_LEASE_SECS,
        }
    }
}

/// A lease's length unless the operator says otherwise: long enough for a
/// database that stalls for a while, short enough that a dead worker's
/// run goes again within minutes.
pub const DEFAULT_LEASE_SECS: f64 = 60.0;

/// Records read so far and the total the source says, shared by the read
/// and the lease's renewals.
pub(crate) type ProgressCell = Arc<Mutex<Option<(u64, Option<u64>)>>>;

/// The renewals of one run's lease, for as long as it lives.
pub(crate) struct Lease {
    task: tokio::task::JoinHandle<()>,
    lost: tokio::sync::watch::Receiver<bool>,
}

impl Lease {
    /// Renew `run_id`'s lease for `holder` until dropped.
    pub(crate) fn keep(
        store: &Store,
        run_id: &str,
        holder: &Holder,
        progress: ProgressCell,
    ) -> Lease {
        let (tx, lost) = tokio::sync::watch::channel(false);
        let (store, run_id, holder) = (store.clone(), run_id.to_string(), holder.clone());
        let every = Duration::from_secs_f64((holder.secs / 4.0).max(0.2));
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let seen = progress.lock().ok().and_then(|p| *p);
                match store
                    .renew_lease(&run_id, &holder.id, &after(holder.secs), seen)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = tx.send(true);
                        return;
                    }
                    // The database is away: try again, the lease may still hold.
                    Err(e) => tracing::warn!(run = %run_id, "cannot renew the run's lease: {e}"),
                }
            }
        });
        Lease { task, lost }
    }

    /// Resolves when the lease is no longer this holder's.
    pub(crate) async fn lost(&mut self) {
        while !*self.lost.borrow() {
            if self.lost.changed().await.is_err() {
                // Renewals ended without a loss: wait forever.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}
