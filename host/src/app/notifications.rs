//! Notifications: what tells a district of a held run, a failed run, an
//! export the destination refused changes of, and a schedule about to
//! expire; an organization's notification settings (with its webhook's
//! signing secret, sealed); and the sending of the outbox, a message each
//! or one daily digest, by whichever worker takes it.

use super::*;
use crate::config::{Notifications, OrgSettings};
use crate::queue::Job;
use crate::secret::Secret;

/// The sealed secrets of an organization itself (not of a source).
const ORG_SECRETS: &str = "@organization";
const WEBHOOK_SECRET: &str = "webhook_secret";
/// Sends of one notification before it is left failed.
const SEND_ATTEMPTS: i64 = 8;

/// An organization's settings as an admin sees them: time zone and
/// notifications, and whether a webhook secret is set (never its value).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OrgSettingsView {
    pub time_zone: String,
    #[schema(value_type = Object)]
    pub notifications: Notifications,
    pub webhook_secret_set: bool,
    /// Whether this host can mail (an SMTP relay is configured).
    pub email_relay: bool,
}

/// Settings to save: each part left out stays as it is.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct OrgSettingsUpdate {
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub notifications: Option<Notifications>,
    /// The webhook's signing secret; an empty string removes it.
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

impl App {
    pub(crate) async fn org_settings_of(&self, org: &str) -> AppResult<OrgSettings> {
        Ok(OrgSettings::parse(
            &self.engine.store().org_settings(org).await?,
        ))
    }

    /// Check a schedule an admin saves: its parts, and an expiry date not
    /// past in the organization's time zone.
    pub async fn check_schedule(
        &self,
        caller: &Caller,
        org: &str,
        schedule: &crate::config::Schedule,
    ) -> AppResult<()> {
        caller.require(org, Role::Admin)?;
        let tz = self.org_settings_of(org).await?.tz();
        schedule.check_new(tz)?;
        Ok(())
    }

    /// An organization's time zone and notification settings (viewer).
    pub async fn org_settings(&self, caller: &Caller, org: &str) -> AppResult<OrgSettingsView> {
        caller.role(org)?;
        let s = self.org_settings_of(org).await?;
        let sealed = self.engine.store().sealed_secrets(org, ORG_SECRETS).await?;
        Ok(OrgSettingsView {
            time_zone: s.tz().name().to_string(),
            notifications: s.notifications,
            webhook_secret_set: sealed.iter().any(|x| x.name == WEBHOOK_SECRET),
            email_relay: self.relay.is_some(),
        })
    }

    /// Save an organization's time zone and notification settings (admin).
    pub async fn set_org_settings(
        &self,
        caller: &Caller,
        org: &str,
        update: OrgSettingsUpdate,
    ) -> AppResult<OrgSettingsView> {
        caller.require(org, Role::Admin)?;
        let mut s = self.org_settings_of(org).await?;
        if let Some(tz) = &update.time_zone {
            OrgSettings::check_time_zone(tz)?;
            s.time_zone = Some(tz.clone());
        }
        if let Some(mut n) = update.notifications {
            n.check()?;
            // A form or a body that leaves it out keeps the file's variable.
            if n.webhook_secret.is_none() {
                n.webhook_secret = s.notifications.webhook_secret.clone();
            }
            s.notifications = n;
        }
        let store = self.engine.store();
        let json = serde_json::to_string(&s).map_err(|e| AppError::Internal(e.to_string()))?;
        store.set_org_settings(org, &json).await?;
        match update.webhook_secret.as_deref() {
            Some("") => {
                store
                    .delete_secret(org, ORG_SECRETS, WEBHOOK_SECRET)
                    .await?
            }
            Some(value) => {
                let sealed =
                    self.secrets
                        .seal(org, ORG_SECRETS, WEBHOOK_SECRET, &Secret::new(value));
                store.put_secret(org, ORG_SECRETS, &sealed).await?;
            }
            None => {}
        }
        self.audit(
            caller,
            org,
            "organization.settings",
            org,
            json!({"time_zone": s.time_zone, "notifications": s.notifications, "webhook_secret": update.webhook_secret.as_ref().map(|_| "[changed]")}),
        )
        .await?;
        self.org_settings(caller, org).await
    }

    /// An organization's notifications, newest first (viewer).
    pub async fn notification_log(
        &self,
        caller: &Caller,
        org: &str,
        limit: i64,
    ) -> AppResult<Vec<crate::store::jobs::Notification>> {
        caller.role(org)?;
        Ok(self
            .engine
            .store()
            .notifications(org, limit.clamp(1, 500))
            .await?)
    }

    /// Tell of a run that ended held, awaiting approval, failed, or (an
    /// export) with changes the destination refused.
    pub(crate) async fn notify_run(&self, run: &Run) {
        let rejected = if run.mode == "export" {
            run.report.errors_total
        } else {
            0
        };
        let (event, what) = match run.status {
            RunStatus::Held | RunStatus::AwaitingApproval => (
                "run.held",
                format!(
                    "is held for review: {}",
                    run.hold_reason
                        .clone()
                        .or_else(|| run.report.hold.clone())
                        .unwrap_or_else(|| "the source previews every run".into())
                ),
            ),
            RunStatus::Failed => (
                "run.failed",
                format!("failed: {}", run.report.failure.clone().unwrap_or_default()),
            ),
            RunStatus::Committed if rejected > 0 => (
                "run.rejected",
                format!("was sent, and the destination refused {rejected} change(s)"),
            ),
            _ => return,
        };
        let path = format!("/orgs/{}/runs/{}", run.org_id, run.id);
        let subject = format!("{} {}", run_title(run), event_word(event));
        let body = format!(
            "The {} {what}\n\nOpen it in Homeroom: {path}\nRun {}, started {}, trigger {}\n",
            run_title(run),
            run.id,
            run.started_at,
            run.trigger
        );
        let payload = json!({
            "event": event,
            "organization": run.org_id,
            "run": {
                "id": run.id,
                "source": run.source_id,
                "mode": run.mode,
                "trigger": run.trigger,
                "status": run.status.as_str(),
                "hold_reason": run.hold_reason,
                "failure": run.report.failure,
                "changes": run.report.changes(),
                "rejected": rejected,
            },
            "path": path,
        });
        let dedupe = format!("{event}:{}", run.id);
        if let Err(e) = self
            .notify(&run.org_id, event, &dedupe, &subject, &body, payload)
            .await
        {
            tracing::error!(run = %run.id, "cannot queue the notification: {e}");
        }
    }

    /// Tell once, `expiry_warning_days` ahead, that a schedule will expire.
    pub(crate) async fn notice_expiry(
        &self,
        org: &str,
        config: &SourceConfig,
        settings: &OrgSettings,
        now: chrono::DateTime<chrono::Utc>,
        noticed: Option<&str>,
    ) -> AppResult<()> {
        let Some(expires) = config.schedule.as_ref().and_then(|s| s.expires.clone()) else {
            return Ok(());
        };
        if noticed == Some(expires.as_str()) {
            return Ok(());
        }
        let Ok(end) = chrono::NaiveDate::parse_from_str(&expires, "%Y-%m-%d") else {
            return Ok(());
        };
        let today = now.with_timezone(&settings.tz()).date_naive();
        let ahead = settings.notifications.expiry_warning_days.unwrap_or(7) as i64;
        let left = (end - today).num_days();
        if left < 0 || left > ahead {
            return Ok(());
        }
        if !self
            .engine
            .store()
            .note_expiry(org, &config.id, &expires)
            .await?
        {
            return Ok(());
        }
        let name = config.name.clone().unwrap_or_else(|| config.id.clone());
        let subject = format!("the schedule of {name} expires on {expires}");
        let body = format!(
            "The schedule of {name} runs for the last time on {expires}; after that it runs only by hand. \
             To keep it going, set a later expiry date in its Sync Schedule step: /orgs/{org}/sources/{}/setup/schedule\n",
            config.id
        );
        let payload = json!({
            "event": "schedule.expiring",
            "organization": org,
            "source": config.id,
            "expires": expires,
            "days_left": left,
        });
        self.notify(
            org,
            "schedule.expiring",
            &format!("schedule.expiring:{org}:{}:{expires}", config.id),
            &subject,
            &body,
            payload,
        )
        .await
    }

    /// Put a notification in the outbox, by the organization's settings
    /// (a webhook, an email now, or an email for the digest), and hand it
    /// to a worker.
    async fn notify(
        &self,
        org: &str,
        event: &str,
        dedupe: &str,
        subject: &str,
        body: &str,
        payload: Json,
    ) -> AppResult<()> {
        let settings = self.org_settings_of(org).await?;
        let n = &settings.notifications;
        let webhook = if n.webhook_url.is_some() {
            "pending"
        } else {
            "none"
        };
        let email = match (n.email.is_empty(), n.digest) {
            (true, _) => "none",
            (false, true) => "digest",
            (false, false) => "pending",
        };
        let payload =
            serde_json::to_string(&payload).map_err(|e| AppError::Internal(e.to_string()))?;
        let id = self
            .engine
            .store()
            .add_notification(org, event, dedupe, subject, body, &payload, webhook, email)
            .await?;
        if let Some(id) = id
            && (webhook == "pending" || email == "pending")
        {
            self.hand_notification(&id).await;
        }
        Ok(())
    }

    async fn hand_notification(&self, id: &str) {
        match &self.queue {
            Some(queue) => {
                if let Err(e) = queue.push(Job::Notify { id: id.to_string() }).await {
                    tracing::error!(notification = %id, "cannot hand the notification to the queue: {e}");
                }
            }
            None => {
                if let Err(e) = self.send_notification(id).await {
                    tracing::error!(notification = %id, "{e}");
                }
            }
        }
    }

    /// Hand again every notification whose next try came.
    pub(crate) async fn send_due_notifications(&self) -> AppResult<()> {
        for id in self.engine.store().due_notifications().await? {
            self.hand_notification(&id).await;
        }
        Ok(())
    }

    /// Send what is left of one notification: its webhook, its email.
    /// A channel that fails is tried again later, with a longer wait each
    /// time, and left failed after the last try.
    pub(crate) async fn send_notification(&self, id: &str) -> AppResult<()> {
        let store = self.engine.store();
        let Some(n) = store.claim_notification(id, 120.0).await? else {
            return Ok(());
        };
        let settings = self.org_settings_of(&n.org_id).await?.notifications;
        let mut errors = Vec::new();
        let mut webhook = n.webhook_state.clone();
        if webhook == "pending" {
            match &settings.webhook_url {
                None => webhook = "none".into(),
                Some(url) => {
                    let secret = self.webhook_secret(&n.org_id, &settings).await?;
                    match crate::notify::post_webhook(
                        &self.http,
                        url,
                        secret.as_ref(),
                        &n.event,
                        &n.payload,
                    )
                    .await
                    {
                        Ok(()) => webhook = "sent".into(),
                        Err(e) => errors.push(e.to_string()),
                    }
                }
            }
        }
        let mut email = n.email_state.clone();
        if email == "pending" {
            if settings.email.is_empty() {
                email = "none".into();
            } else {
                match &self.relay {
                    None => errors.push(
                        "no SMTP relay is configured on this host: start homeroom with --smtp-url (and --mail-from)".into(),
                    ),
                    Some(relay) => match relay
                        .mail(&settings.email, &format!("[Homeroom] {}", n.subject), &n.body)
                        .await
                    {
                        Ok(()) => email = "sent".into(),
                        Err(e) => errors.push(e.to_string()),
                    },
                }
            }
        }
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        let last = n.attempts + 1 >= SEND_ATTEMPTS;
        let retry_in = if error.is_some() && !last {
            Some((30.0 * 2f64.powi(n.attempts as i32)).min(6.0 * 3600.0))
        } else {
            None
        };
        if last && error.is_some() {
            if webhook == "pending" {
                webhook = "failed".into();
            }
            if email == "pending" {
                email = "failed".into();
            }
        }
        if let Some(e) = &error {
            tracing::warn!(notification = %id, org = %n.org_id, "a notification did not go: {e}");
        }
        store
            .notification_tried(id, &webhook, &email, error.as_deref(), retry_in)
            .await?;
        Ok(())
    }

    /// The webhook's signing secret: sealed through the API or the UI, or
    /// by environment variable in configuration as code.
    async fn webhook_secret(
        &self,
        org: &str,
        settings: &Notifications,
    ) -> AppResult<Option<Secret>> {
        let sealed = self.engine.store().sealed_secrets(org, ORG_SECRETS).await?;
        if let Some(s) = sealed.iter().find(|s| s.name == WEBHOOK_SECRET) {
            return Ok(self.secrets.open(org, ORG_SECRETS, s));
        }
        Ok(settings
            .webhook_secret
            .as_ref()
            .and_then(|var| std::env::var(var).ok())
            .map(Secret::new))
    }

    /// Mail each organization's daily digest once its time of day came.
    pub(crate) async fn send_digests(&self, now: chrono::DateTime<chrono::Utc>) -> AppResult<()> {
        let Some(relay) = &self.relay else {
            return Ok(());
        };
        let store = self.engine.store();
        for (org, name, settings) in store.organizations_with_settings().await? {
            let settings = OrgSettings::parse(&settings);
            let n = &settings.notifications;
            if !n.digest || n.email.is_empty() {
                continue;
            }
            let tz = settings.tz();
            let local = now.with_timezone(&tz);
            let mut day = local.date_naive();
            if local.time() < n.digest_time() {
                day = day.pred_opt().unwrap_or(day);
            }
            let due = {
                use chrono::TimeZone;
                tz.from_local_datetime(&day.and_time(n.digest_time()))
                    .earliest()
            };
            let Some(due) = due else {
                continue;
            };
            let due = due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let Some(list) = store.take_digest(&org, &due).await? else {
                continue;
            };
            if list.is_empty() {
                continue;
            }
            let subject = format!(
                "[Homeroom] {name}: {} notification(s) since the last digest",
                list.len()
            );
            let body = list
                .iter()
                .map(|x| format!("- {} ({})\n{}\n", x.subject, x.created_at, x.body))
                .collect::<Vec<_>>()
                .join("\n");
            if let Err(e) = relay.mail(&n.email, &subject, &body).await {
                tracing::warn!(org = %org, "the daily digest did not go; its notifications wait for the next: {e}");
                let ids: Vec<String> = list.into_iter().map(|x| x.id).collect();
                store.return_to_digest(&ids).await?;
            }
        }
        Ok(())
    }
}

/// "sis run 0193…" as a subject and a sentence start.
fn run_title(run: &Run) -> String {
    let what = if run.mode == "export" {
        "export to"
    } else {
        "run of"
    };
    format!("{what} {}", run.source_id)
}

fn event_word(event: &str) -> &'static str {
    match event {
        "run.held" => "is held for review",
        "run.failed" => "failed",
        "run.rejected" => "had changes refused",
        _ => "",
    }
}
