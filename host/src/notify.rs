//! Notifications leave the hub: a JSON webhook signed with the
//! organization's secret, and email through the operator's SMTP relay
//! (`lettre`). This module only sends what it is handed and says why a
//! send failed; what to notify, when, and what was sent is the
//! application's (`app::notifications`, over the store's outbox).

use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;

use crate::secret::Secret;

/// The header that carries a webhook's signature.
pub const SIGNATURE_HEADER: &str = "Homeroom-Signature";
/// The header that names a webhook's event.
pub const EVENT_HEADER: &str = "Homeroom-Event";

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(
        "the SMTP relay `{url}` is not usable: {why}. Pass --smtp-url smtp://USER:PASSWORD@HOST:PORT (smtps:// for TLS from the start)"
    )]
    Relay { url: String, why: String },
    #[error(
        "`{0}` is not an address mail can be sent from: pass --mail-from with one such as homeroom@district.org"
    )]
    From(String),
    #[error("`{0}` is not an email address; fix it in the organization's notification settings")]
    To(String),
    #[error("the SMTP relay refused the message: {0}")]
    Send(String),
    #[error("the webhook {url} did not answer: {why}")]
    Unreachable { url: String, why: String },
    #[error("the webhook {url} answered {status}; it must answer 2xx")]
    Status { url: String, status: u16 },
}

/// The operator's SMTP relay and the address mail comes from.
#[derive(Clone)]
pub struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    url: String,
}

impl Relay {
    /// A relay by URL (`smtp://host:25`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://host:465`).
    pub fn new(url: &str, from: &str) -> Result<Relay, NotifyError> {
        let shown = crate::secret::redact_url(url);
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| NotifyError::Relay {
                url: shown.clone(),
                why: e.to_string(),
            })?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|_| NotifyError::From(from.to_string()))?;
        Ok(Relay {
            transport,
            from,
            url: shown,
        })
    }

    /// Where mail goes, without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Mail a plain-text message to each address.
    pub async fn mail(&self, to: &[String], subject: &str, body: &str) -> Result<(), NotifyError> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for addr in to {
            message = message.to(addr
                .parse::<Mailbox>()
                .map_err(|_| NotifyError::To(addr.clone()))?);
        }
        // Plain 7-bit lines when the text allows (what a person's mail
        // client shows as it is); lettre's choice of encoding otherwise.
        let body = lettre::message::Body::new_with_encoding(
            body.replace("\r\n", "\n").replace('\n', "\r\n"),
            lettre::message::header::ContentTransferEncoding::SevenBit,
        )
        .unwrap_or_else(lettre::message::Body::new);
        let message = message
            .body(body)
            .map_err(|e| NotifyError::Send(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| NotifyError::Send(e.to_string()))?;
        Ok(())
    }
}

/// The signature of a webhook body sent at unix time `t`:
/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. A receiver recomputes it
/// with the secret and refuses an old `t` (a replay).
pub fn signature(secret: &Secret, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// POST a notification's JSON to a webhook, signed when there is a secret.
pub async fn post_webhook(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&Secret>,
    event: &str,
    body: &str,
) -> Result<(), NotifyError> {
    let mut request = client
        .post(url)
        .timeout(Duration::from_secs(15))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_HEADER, event)
        .body(body.to_string());
    if let Some(secret) = secret {
        let t = chrono::Utc::now().timestamp();
        request = request.header(SIGNATURE_HEADER, signature(secret, t, body));
    }
    let shown = crate::secret::redact_url(url);
    let response = request.send().await.map_err(|e| NotifyError::Unreachable {
        url: shown.clone(),
        why: e.without_url().to_string(),
    })?;
    if !response.status().is_success() {
        return Err(NotifyError::Status {
            url: shown,
            status: response.status().as_u16(),
        });
    }
    Ok(())
}
