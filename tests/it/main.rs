//! Integration tests: one binary (matklad, ripgrep), modules by capability.

mod account_rules;
mod accounts;
mod architecture;
mod backend;
mod cli;
mod examples;
mod hostile;
mod http_server;
mod operate;
mod properties;
mod redis;
mod reload;
mod replicas;
mod retries;
mod safe_mode;
mod serve;
mod upstream;
mod util;
mod wechat;
mod wechat_api;
