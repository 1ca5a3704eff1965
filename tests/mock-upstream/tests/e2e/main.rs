//! End-to-end tests of the mock: a real server on loopback, a plain HTTP client.

mod anthropic;
mod behaviors;
mod binary;
mod common;
mod gemini;
mod openai;
mod recording;
mod responses;
