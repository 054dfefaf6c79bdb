//! Passwords never show: not in output, logs, `config`, command lines or tools' environments.

mod mysql_redis;
mod postgres;
