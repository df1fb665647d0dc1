//! The district's rule components attached to a source: transform rules run
//! after attribute mapping, filter rules after the built-in filters. Each
//! runs on whole pages (one boundary crossing per page), in its own sandbox
//! started once per run. A rule whose manifest declares `reads` is sent only
//! those attributes of each record; see `runtime::rule` for how a
//! transformation's answer is merged back.

use crate::config::SourceConfig;
use crate::gallery::PluginKind;
use crate::gallery::grant::grant;
use crate::runtime::{PluginCallError, RuleSession, SessionOptions};

use super::{Engine, EngineError};
use crate::model::record::Record;
use crate::model::report::RunReport;

pub struct RuleChain {
    transforms: Vec<RuleSession>,
    filters: Vec<RuleSession>,
}

impl RuleChain {
    pub async fn start(
        engine: &Engine,
        org_id: &str,
        config: &SourceConfig,
    ) -> Result<RuleChain, EngineError> {
        let mut chain = RuleChain {
            transforms: Vec::new(),
            filters: Vec::new(),
        };
        for r in &config.rules {
            let package = engine.gallery.get(&r.plugin)?.clone();
            if !package.manifest.kind.is_rule() {
                return Err(EngineError::Setup(format!(
                    "`{}` is a connector, not a rule",
                    r.plugin
                )));
            }
            let granted = grant(
                &package.manifest,
                &r.settings,
                &Default::default(),
                engine.http_limits.clone(),
            )?;
            let loaded = engine.runtime.load(&package)?;
            let session = RuleSession::start(
                &engine.runtime,
                loaded,
                SessionOptions {
                    settings: granted.settings,
                    owner: Some(org_id.to_string()),
                    ..Default::default()
                },
            )
            .await?;
            match package.manifest.kind {
                PluginKind::TransformRule => chain.transforms.push(session),
                _ => chain.filters.push(session),
            }
        }
        Ok(chain)
    }

    async fn run(
        sessions: &mut [RuleSession],
        mut records: Vec<Record>,
        report: &mut RunReport,
    ) -> Result<Vec<Record>, PluginCallError> {
        for session in sessions {
            if records.is_empty() {
                break;
            }
            // The session keeps in `records` what the rule kept (replacements
            // merged in, see `runtime::RuleSession::apply`).
            let dropped = session.apply(&mut records).await?;
            report.left_out_by_rule(session.plugin_id(), &dropped);
        }
        Ok(records)
    }

    pub async fn transform(
        &mut self,
        records: Vec<Record>,
        report: &mut RunReport,
    ) -> Result<Vec<Record>, PluginCallError> {
        Self::run(&mut self.transforms, records, report).await
    }

    pub async fn filter(
        &mut self,
        records: Vec<Record>,
        report: &mut RunReport,
    ) -> Result<Vec<Record>, PluginCallError> {
        Self::run(&mut self.filters, records, report).await
    }
}
