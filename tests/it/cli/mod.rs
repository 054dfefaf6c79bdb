//! The binary's names: links and the image's entry points dispatch to their subcommands.

mod image_links;
pub(crate) mod links;
