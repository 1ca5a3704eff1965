//! Wire types every layer shares: which client API a request speaks (`ApiFamily`, which also
//! shapes its error bodies), the endpoints and wire formats (`Endpoint`, `WireFormat`), the
//! token counts each format reports and the gateway's own (`Usage`), and what a provider's model
//! list says of a model (`ModelDetails`). Ground layer: imports nothing from the crate.

mod endpoint;
mod family;
mod models;
mod usage;

pub use endpoint::{Endpoint, WireFormat};
pub use family::ApiFamily;
pub use models::ModelDetails;
pub use usage::{AnthropicUsage, GeminiUsage, OpenAiUsage, ResponsesUsage, Usage};
