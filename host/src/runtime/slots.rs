//! Instance slots: how many plugin instances live at once, shared fairly
//! between organizations. Each instance holds a slot for as long as it
//! lives. A run's own instances (its connector's first, its rules') wait
//! their turn; when a slot frees it goes to the waiting organization that
//! holds the fewest, the earliest of those first. The extra instances that
//! read the pages a connector lists ahead are taken only when a slot is
//! free and no one waits, so one organization's busy runs never keep
//! another's run waiting for more than the end of a page.
//!
//! It owns the counting and nothing else: the sandbox takes a slot as it
//! makes a store and gives it back when the store goes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// Whose instance it is: an organization, or the operator (the CLI, tests).
pub type Owner = Option<String>;

pub struct Slots {
    state: Mutex<State>,
}

struct State {
    free: usize,
    total: usize,
    /// Slots held, by owner.
    held: HashMap<Owner, usize>,
    waiting: VecDeque<Waiter>,
}

struct Waiter {
    owner: Owner,
    give: oneshot::Sender<()>,
}

/// A slot held; given back when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    owner: Owner,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release(&self.owner);
    }
}

/// What a wait for a slot is waiting on, as an admin reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub total: usize,
    /// Instances held by others (all but the waiting owner's).
    pub held_by_others: usize,
    /// Runs' instances waiting before this one.
    pub waiting: usize,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "waiting for a plugin slot: all {} are busy ({} with other organizations' runs), {} waiting before it",
            self.total, self.held_by_others, self.waiting
        )
    }
}

impl Slots {
    pub fn new(total: usize) -> Arc<Slots> {
        Arc::new(Slots {
            state: Mutex::new(State {
                free: total.max(1),
                total: total.max(1),
                held: HashMap::new(),
                waiting: VecDeque::new(),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while counting leaves the counts as they were.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot, now if one is free and no one waits; otherwise in turn.
    /// `on_wait` hears why, once, when it has to wait.
    pub async fn acquire(self: &Arc<Self>, owner: &Owner, on_wait: impl FnOnce(Busy)) -> Slot {
        let taken = {
            let mut s = self.state();
            if s.free > 0 && s.waiting.is_empty() {
                s.take(owner);
                None
            } else {
                let (give, given) = oneshot::channel();
                let busy = Busy {
                    total: s.total,
                    held_by_others: s
                        .held
                        .iter()
                        .filter(|(o, _)| *o != owner)
                        .map(|(_, n)| n)
                        .sum(),
                    waiting: s.waiting.len(),
                };
                s.waiting.push_back(Waiter {
                    owner: owner.clone(),
                    give,
                });
                Some((given, busy))
            }
        };
        if let Some((given, busy)) = taken {
            on_wait(busy);
            let mut wait = Wait {
                given: Some(given),
                slots: self.clone(),
                owner: owner.clone(),
            };
            if let Some(given) = wait.given.as_mut() {
                // The sender is only dropped after sending or with the
                // whole `Slots`, which this `Arc` keeps alive.
                let _ = given.await;
            }
            wait.given = None;
        }
        Slot {
            slots: self.clone(),
            owner: owner.clone(),
        }
    }

    /// A slot only if one is free and no one waits (an extra instance).
    pub fn try_acquire(self: &Arc<Self>, owner: &Owner) -> Option<Slot> {
        let mut s = self.state();
        if s.free == 0 || !s.waiting.is_empty() {
            return None;
        }
        s.take(owner);
        Some(Slot {
            slots: self.clone(),
            owner: owner.clone(),
        })
    }

    /// Whether any instance waits for a slot: an extra should go.
    pub fn wanted(&self) -> bool {
        !self.state().waiting.is_empty()
    }

    /// Slots held now by `owner`.
    pub fn held_by(&self, owner: &Owner) -> usize {
        self.state().held.get(owner).copied().unwrap_or(0)
    }

    /// Give a slot back: to the waiter whose owner holds the fewest, or free.
    fn release(&self, owner: &Owner) {
        let mut s = self.state();
        if let Some(n) = s.held.get_mut(owner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.held.remove(owner);
            }
        }
        loop {
            let next = s
                .waiting
                .iter()
                .enumerate()
                .min_by_key(|(i, w)| (s.held.get(&w.owner).copied().unwrap_or(0), *i))
                .map(|(i, _)| i);
            let Some(waiter) = next.and_then(|i| s.waiting.remove(i)) else {
                s.free += 1;
                return;
            };
            // A waiter that gave up (its run was cancelled) is passed over.
            if waiter.give.send(()).is_ok() {
                *s.held.entry(waiter.owner).or_default() += 1;
                return;
            }
        }
    }
}

impl State {
    fn take(&mut self, owner: &Owner) {
        self.free -= 1;
        *self.held.entry(owner.clone()).or_default() += 1;
    }
}

/// A wait in line; if it is given up after its slot was given, the slot
/// goes back.
struct Wait {
    given: Option<oneshot::Receiver<()>>,
    slots: Arc<Slots>,
    owner: Owner,
}

impl Drop for Wait {
    fn drop(&mut self) {
        if let Some(mut given) = self.given.take() {
            given.close();
            if given.try_recv().is_ok() {
                self.slots.release(&self.owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(name: &str) -> Owner {
        Some(name.to_string())
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_organization_holding_the_fewest() {
        let slots = Slots::new(2);
        let (a, b) = (org("a"), org("b"));
        let a1 = slots.acquire(&a, |_| {}).await;
        let a2 = slots.acquire(&a, |_| {}).await;
        assert!(slots.try_acquire(&a).is_none(), "all busy");
        // a asks for a third before b asks for its first.
        let waits = Arc::new(Mutex::new(Vec::new()));
        let w = waits.clone();
        let s = slots.clone();
        let a3 = tokio::spawn(async move {
            s.acquire(&org("a"), |busy| w.lock().unwrap().push(busy))
                .await
        });
        tokio::task::yield_now().await;
        let w = waits.clone();
        let s = slots.clone();
        let b1 = tokio::spawn(async move {
            s.acquire(&org("b"), |busy| w.lock().unwrap().push(busy))
                .await
        });
        tokio::task::yield_now().await;
        drop(a1);
        let b1 = b1.await.unwrap();
        assert_eq!(slots.held_by(&b), 1, "b holds fewer, so it is served first");
        assert!(!a3.is_finished());
        drop(a2);
        let a3 = a3.await.unwrap();
        assert_eq!(slots.held_by(&a), 1);
        let said: Vec<String> = waits
            .lock()
            .unwrap()
            .iter()
            .map(|b| b.to_string())
            .collect();
        assert_eq!(said.len(), 2);
        assert!(
            said[1]
                .contains("all 2 are busy (2 with other organizations' runs), 1 waiting before it"),
            "{said:?}"
        );
        drop((a3, b1));
        assert_eq!(slots.held_by(&a) + slots.held_by(&b), 0);
        assert!(slots.try_acquire(&a).is_some());
    }

    #[tokio::test]
    async fn a_wait_given_up_gives_its_slot_back() {
        let slots = Slots::new(1);
        let first = slots.acquire(&org("a"), |_| {}).await;
        let s = slots.clone();
        let waiting = tokio::spawn(async move { s.acquire(&org("b"), |_| {}).await });
        tokio::task::yield_now().await;
        waiting.abort();
        let _ = waiting.await;
        drop(first);
        assert!(
            slots.try_acquire(&org("c")).is_some(),
            "the slot is free again"
        );
    }
}
