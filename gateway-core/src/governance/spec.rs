//! What a virtual key says, as the governance API takes it (Bifrost's field names) and as the
//! governance file keeps it. Validation names the field at fault.

use serde::{Deserialize, Serialize};

use super::reset::ResetDuration;

/// A budget in dollars over a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    pub max_limit: f64,
    pub reset_duration: ResetDuration,
    /// Accepted for Bifrost's older shape; the key's own `calendar_aligned` decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_aligned: Option<bool>,
    /// Bifrost sends ids back on update; matched by `reset_duration` here.
    #[serde(default, skip_serializing)]
    pub id: Option<serde_json::Value>,
}

/// Requests and tokens per window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_max_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_reset_duration: Option<ResetDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_max_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_reset_duration: Option<ResetDuration>,
    #[serde(default, skip_serializing)]
    pub id: Option<serde_json::Value>,
}

impl RateLimitSpec {
    pub fn is_empty(&self) -> bool {
        self.token_max_limit.is_none() && self.request_max_limit.is_none()
    }
}

/// One provider a key may use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfigSpec {
    pub provider: String,
    /// `["*"]` (or left out): every model of the provider; `[]`: none.
    #[serde(default = "all_models")]
    pub allowed_models: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blacklisted_models: Vec<String>,
    /// Share of the key's traffic among the configs that can serve a request; null = 1.
    #[serde(default)]
    pub weight: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<BudgetSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    /// Bifrost's per-config id and key restrictions: accepted, not used (Switchyard rotates the
    /// provider's own keys).
    #[serde(default, skip_serializing)]
    pub id: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub key_ids: Option<serde_json::Value>,
}

fn all_models() -> Vec<String> {
    vec!["*".to_owned()]
}

impl ProviderConfigSpec {
    /// Every budget of the config: `budget` and `budgets` together.
    pub fn all_budgets(&self) -> impl Iterator<Item = &BudgetSpec> {
        self.budget.iter().chain(&self.budgets)
    }

    pub fn allows_model(&self, model: &str) -> bool {
        let matches = |list: &[String]| list.iter().any(|m| m == "*" || m == model);
        matches(&self.allowed_models) && !matches(&self.blacklisted_models)
    }

    pub fn weight(&self) -> f64 {
        self.weight.unwrap_or(1.0)
    }
}

/// The body of create and update (`POST`/`PUT /api/governance/virtual-keys[/{id}]`): every field
/// optional, so an update changes only what it names.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_active: Option<bool>,
    pub provider_configs: Option<Vec<ProviderConfigSpec>>,
    pub allow_all_providers: Option<bool>,
    pub budget: Option<BudgetSpec>,
    pub budgets: Option<Vec<BudgetSpec>>,
    pub rate_limit: Option<RateLimitSpec>,
    pub calendar_aligned: Option<bool>,
    /// On update: start the key's budgets (and its configs') over at zero.
    pub reset_budget_usage: Option<bool>,
    /// Bifrost's teams and customers: accepted when empty, refused otherwise (Switchyard has one
    /// user).
    pub team_id: Option<String>,
    pub customer_id: Option<String>,
    /// Which MCP servers' tools the key may use (Bifrost's field); `[]` none.
    pub mcp_configs: Option<Vec<McpConfigSpec>>,
}

/// One MCP server a key may use, and which of its tools (`["*"]` all, as Bifrost).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpConfigSpec {
    /// The server's name (Bifrost also accepts its id here; Switchyard's ids default to names).
    #[serde(alias = "mcp_client_id")]
    pub mcp_client_name: String,
    #[serde(default = "crate::config::every_tool")]
    pub tools_to_execute: Vec<String>,
    /// Bifrost's row id, sent back on update; not used.
    #[serde(default, skip_serializing)]
    pub id: Option<serde_json::Value>,
}

/// A key as kept: everything but its secret value, which is only a hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeySpec {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub is_active: bool,
    /// SHA-256 of the value, hex.
    pub value_hash: String,
    /// `sk-sy-…abcd`, for people to tell keys apart.
    pub value_hint: String,
    /// A key made with a chosen id (`PUT …/vk-free`) answers to that id too, as the seeds'
    /// clients send it (`api_key="vk-free"`).
    pub usable_by_id: bool,
    #[serde(default)]
    pub allow_all_providers: bool,
    #[serde(default)]
    pub provider_configs: Vec<ProviderConfigSpec>,
    #[serde(default)]
    pub budgets: Vec<BudgetSpec>,
    #[serde(default)]
    pub rate_limit: Option<RateLimitSpec>,
    #[serde(default)]
    pub calendar_aligned: bool,
    /// The MCP servers and tools the key may use; a key with none sees no MCP tools.
    #[serde(default)]
    pub mcp_configs: Vec<McpConfigSpec>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A field that is wrong, and why.
#[derive(Debug, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn field_error(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

/// Checks limits (non-negative, finite, durations paired with limits) and that each provider
/// exists (`known_provider`).
pub fn validate(update: &KeyUpdate, known_provider: &dyn Fn(&str) -> bool) -> Result<(), FieldError> {
    if let Some(name) = &update.name
        && (name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control))
    {
        return Err(field_error("name", "a name is 1 to 128 visible characters"));
    }
    if update.team_id.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(field_error("team_id", "Switchyard has no teams: it serves one user on one machine"));
    }
    if update.customer_id.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(field_error("customer_id", "Switchyard has no customers: it serves one user on one machine"));
    }
    for (i, config) in update.mcp_configs.iter().flatten().enumerate() {
        if config.mcp_client_name.trim().is_empty() {
            return Err(field_error(format!("mcp_configs[{i}].mcp_client_name"), "names the MCP server"));
        }
    }
    let budgets = update.budget.iter().chain(update.budgets.iter().flatten());
    validate_budgets("budgets", budgets)?;
    if let Some(limit) = &update.rate_limit {
        validate_rate_limit("rate_limit", limit)?;
    }
    for (i, config) in update.provider_configs.iter().flatten().enumerate() {
        let at = |f: &str| format!("provider_configs[{i}].{f}");
        if !known_provider(&config.provider) {
            return Err(field_error(at("provider"), format!("no provider named `{}`", config.provider)));
        }
        if let Some(weight) = config.weight
            && (!weight.is_finite() || weight < 0.0)
        {
            return Err(field_error(at("weight"), "a weight is a number of zero or more"));
        }
        validate_budgets(&at("budgets"), config.all_budgets())?;
        if let Some(limit) = &config.rate_limit {
            validate_rate_limit(&at("rate_limit"), limit)?;
        }
    }
    Ok(())
}

fn validate_budgets<'a>(field: &str, budgets: impl Iterator<Item = &'a BudgetSpec>) -> Result<(), FieldError> {
    let mut seen = Vec::new();
    for (i, budget) in budgets.enumerate() {
        if !budget.max_limit.is_finite() || budget.max_limit <= 0.0 || budget.max_limit > 1e9 {
            return Err(field_error(
                format!("{field}[{i}].max_limit"),
                format!("a budget is a positive number of dollars, not {}", budget.max_limit),
            ));
        }
        if seen.contains(&budget.reset_duration) {
            return Err(field_error(
                format!("{field}[{i}].reset_duration"),
                format!("two budgets reset every {}: one budget per duration", budget.reset_duration),
            ));
        }
        seen.push(budget.reset_duration);
    }
    Ok(())
}

fn validate_rate_limit(field: &str, limit: &RateLimitSpec) -> Result<(), FieldError> {
    for (kind, max, duration) in [
        ("token", limit.token_max_limit, limit.token_reset_duration),
        ("request", limit.request_max_limit, limit.request_reset_duration),
    ] {
        match (max, duration) {
            (Some(max), _) if max <= 0 => {
                return Err(field_error(
                    format!("{field}.{kind}_max_limit"),
                    format!("a limit is positive, not {max}"),
                ));
            }
            (Some(_), None) => {
                return Err(field_error(
                    format!("{field}.{kind}_reset_duration"),
                    format!("`{kind}_max_limit` needs a `{kind}_reset_duration`"),
                ));
            }
            (None, Some(_)) => {
                return Err(field_error(
                    format!("{field}.{kind}_max_limit"),
                    format!("`{kind}_reset_duration` needs a `{kind}_max_limit`"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<KeyUpdate, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn the_seeds_body_parses_and_bad_fields_are_named() {
        let known = |p: &str| p == "openai" || p == "vllm";
        let seed = parse(
            r#"{"provider_configs": [{"provider": "openai", "allowed_models": ["gpt-4o-mini"], "weight": 1.0}],
                "budget": {"max_limit": 10.0, "reset_duration": "1M"}}"#,
        )
        .unwrap();
        assert!(validate(&seed, &known).is_ok());
        let cases = [
            (r#"{"budget": {"max_limit": -1, "reset_duration": "1d"}}"#, "budgets[0].max_limit"),
            (
                r#"{"budgets": [{"max_limit": 1, "reset_duration": "1d"}, {"max_limit": 2, "reset_duration": "1d"}]}"#,
                "budgets[1].reset_duration",
            ),
            (r#"{"provider_configs": [{"provider": "nosuch"}]}"#, "provider_configs[0].provider"),
            (r#"{"provider_configs": [{"provider": "vllm", "weight": -2}]}"#, "provider_configs[0].weight"),
            (
                r#"{"rate_limit": {"request_max_limit": 0, "request_reset_duration": "1m"}}"#,
                "rate_limit.request_max_limit",
            ),
            (r#"{"rate_limit": {"token_max_limit": 5}}"#, "rate_limit.token_reset_duration"),
            (r#"{"team_id": "t1"}"#, "team_id"),
        ];
        for (json, field) in cases {
            let err = validate(&parse(json).unwrap(), &known).unwrap_err();
            assert_eq!(err.field, field, "{json}");
        }
        // Unknown fields and unknown durations fail to parse, naming what is wrong.
        assert!(parse(r#"{"budgett": {}}"#).unwrap_err().contains("budgett"));
        assert!(
            parse(r#"{"budget": {"max_limit": 1, "reset_duration": "fortnight"}}"#).unwrap_err().contains("fortnight")
        );
    }

    #[test]
    fn allowed_models_default_to_all_and_the_blacklist_wins() {
        let config: ProviderConfigSpec = serde_json::from_str(r#"{"provider": "openai"}"#).unwrap();
        assert!(config.allows_model("gpt-4o"));
        let config: ProviderConfigSpec =
            serde_json::from_str(r#"{"provider": "openai", "allowed_models": ["*"], "blacklisted_models": ["o3"]}"#)
                .unwrap();
        assert!(config.allows_model("gpt-4o") && !config.allows_model("o3"));
        let config: ProviderConfigSpec =
            serde_json::from_str(r#"{"provider": "openai", "allowed_models": []}"#).unwrap();
        assert!(!config.allows_model("gpt-4o"));
    }
}
