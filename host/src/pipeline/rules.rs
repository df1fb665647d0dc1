//! The district's rule components attached to a source: transform rules run
//! after attribute mapping, filter rules after the built-in filters. Each
//! runs on whole pages (one boundary crossing per page), in its own sandbox
//! started once per run.

use crate::config::SourceConfig;
use crate::gallery::PluginKind;
use crate::gallery::grant::grant;
use crate::runtime::{RuleSession, SessionOptions, Verdict};

use super::record::Record;
use super::report::RunReport;
use super::{Engine, EngineError};

pub struct RuleChain {
    transforms: Vec<RuleSession>,
    filters: Vec<RuleSession>,
}

impl RuleChain {
    pub async fn start(engine: &Engine, config: &SourceConfig) -> Result<RuleChain, EngineError> {
        let mut chain = RuleChain {
            transforms: Vec::new(),
            filters: Vec::new(),
        };
        for r in &config.rules {
            let package = engine
                .gallery
                .get(&r.plugin)
                .map_err(|e| EngineError::Setup(e.to_string()))?
                .clone();
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
            )
            .map_err(|e| EngineError::Setup(e.to_string()))?;
            let loaded = engine
                .runtime
                .load(&package)
                .map_err(|e| EngineError::Setup(e.to_string()))?;
            let session = RuleSession::start(
                &engine.runtime,
                loaded,
                SessionOptions {
                    settings: granted.settings,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| EngineError::Setup(e.to_string()))?;
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
    ) -> Result<Vec<Record>, EngineError> {
        for session in sessions {
            if records.is_empty() {
                break;
            }
            let batch: Vec<_> = records.iter().map(Record::to_entity).collect();
            let verdicts = session
                .apply(&batch)
                .await
                .map_err(|e| EngineError::Setup(e.to_string()))?;
            let mut kept = Vec::with_capacity(records.len());
            for (record, verdict) in records.into_iter().zip(verdicts) {
                match verdict {
                    Verdict::Keep => kept.push(record),
                    Verdict::Replace(e) => {
                        let mut r = Record::from_entity(e);
                        r.deleted = record.deleted;
                        kept.push(r)
                    }
                    Verdict::Drop(why) => {
                        let kind = record.kind.cli_name();
                        report.kind(kind).skipped += 1;
                        report.warn(
                            kind,
                            &record.source_id,
                            format!("left out by rule `{}`: {why}", session.plugin_id()),
                        );
                    }
                }
            }
            records = kept;
        }
        Ok(records)
    }

    pub async fn transform(
        &mut self,
        records: Vec<Record>,
        report: &mut RunReport,
    ) -> Result<Vec<Record>, EngineError> {
        Self::run(&mut self.transforms, records, report).await
    }

    pub async fn filter(
        &mut self,
        records: Vec<Record>,
        report: &mut RunReport,
    ) -> Result<Vec<Record>, EngineError> {
        Self::run(&mut self.filters, records, report).await
    }
}
