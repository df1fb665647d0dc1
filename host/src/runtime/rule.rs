//! A rule instance for one run: a batch of records in, one verdict per record
//! out, metered with fuel so a rule's cost is deterministic.

use std::sync::Arc;

use super::bindings::rule::Rule;
use super::bindings::rule::exports::homeroom::plugin::rule_api::Verdict;
use super::bindings::types::Entity;
use super::error::{Failure, PluginCallError};
use super::state::{Sandbox, SessionOptions, plugin_call};
use super::{LoadedPlugin, Pre, Runtime, validate};

pub struct RuleSession {
    sandbox: Sandbox,
    instance: Rule,
}

impl RuleSession {
    pub async fn start(
        runtime: &Runtime,
        plugin: Arc<LoadedPlugin>,
        options: SessionOptions,
    ) -> Result<RuleSession, PluginCallError> {
        let Pre::Rule(pre) = &plugin.pre else {
            return Err(PluginCallError {
                plugin: plugin.package.id().to_string(),
                call: "start".into(),
                failure: Failure::Instantiate("this plugin is a connector, not a rule".into()),
                recent_log: Vec::new(),
            });
        };
        let pre = pre.clone();
        let mut sandbox = Sandbox::new(runtime, plugin, options).await?;
        let instance = plugin_call!(sandbox, "start".to_string(), |store| pre
            .instantiate_async(store))?;
        Ok(RuleSession { sandbox, instance })
    }

    pub fn plugin_id(&self) -> &str {
        self.sandbox.plugin_id()
    }

    /// One verdict per record of `batch`, in order.
    pub async fn apply(&mut self, batch: &[Entity]) -> Result<Vec<Verdict>, PluginCallError> {
        let call = format!("apply({} records)", batch.len());
        let api = self.instance.homeroom_plugin_rule_api();
        let out = plugin_call!(self.sandbox, call.clone(), |store| api
            .call_apply(store, batch))?;
        let verdicts =
            out.map_err(|e| self.sandbox.failed(&call, Failure::from_plugin_error(e)))?;
        validate::verdicts(batch, &verdicts)
            .map_err(|m| self.sandbox.failed(&call, Failure::InvalidData(m)))?;
        Ok(verdicts)
    }
}
