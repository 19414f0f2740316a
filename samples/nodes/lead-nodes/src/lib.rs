//! The custom node types of `samples/lead-scoring.yaml`: each trait of the generated contract
//! (`lead_nodes_contract`) implemented for [`Nodes`], which the flow's worker serves.

use lead_nodes_contract::{
    ActivityContext, ActivityError, ApplicationFailure, EnrichCompany, EnrichCompanyInput, EnrichCompanyOutput, EnrichCompanyOutputSegment, ScoreLead, ScoreLeadInput,
    ScoreLeadOutput, ScoreLeadOutputTier,
};

/// The implementation the worker registers (it builds it with `Default`).
#[derive(Default)]
pub struct Nodes;

/// Free mail providers: their users are consumers, whatever the address says.
const FREE_MAIL: &[&str] = &["gmail.com", "outlook.com", "yahoo.com", "proton.me"];

impl EnrichCompany for Nodes {
    async fn enrich_company(&self, _ctx: ActivityContext, input: EnrichCompanyInput) -> Result<EnrichCompanyOutput, ActivityError> {
        let Some((_, domain)) = input.email.rsplit_once('@').filter(|(user, domain)| !user.is_empty() && domain.contains('.')) else {
            // No retry makes a malformed address valid.
            return Err(ActivityError::application(ApplicationFailure::non_retryable(format!("`{}` is not an email address", input.email))));
        };
        let domain = domain.to_ascii_lowercase();
        let segment = if FREE_MAIL.contains(&domain.as_str()) {
            EnrichCompanyOutputSegment::Consumer
        } else if domain.ends_with(".gov") || domain.split('.').count() > 2 {
            EnrichCompanyOutputSegment::Enterprise
        } else {
            EnrichCompanyOutputSegment::Business
        };
        Ok(EnrichCompanyOutput { domain, segment })
    }
}

impl ScoreLead for Nodes {
    async fn score_lead(&self, _ctx: ActivityContext, input: ScoreLeadInput) -> Result<ScoreLeadOutput, ActivityError> {
        let base: i64 = match input.segment.as_str() {
            "enterprise" => 60,
            "business" => 40,
            _ => 10,
        };
        // Size counts logarithmically: ten people more matter less at a thousand than at ten.
        let size = (input.employees.max(1) as f64).log10() * 10.0;
        let score = (base + size as i64).min(100);
        let tier = match score {
            70.. => ScoreLeadOutputTier::Hot,
            40..70 => ScoreLeadOutputTier::Warm,
            _ => ScoreLeadOutputTier::Cold,
        };
        Ok(ScoreLeadOutput { score, tier })
    }
}
