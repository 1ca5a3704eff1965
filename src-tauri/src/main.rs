//! `switchyard`: the menu-bar app. See the library's top comment.

fn main() -> std::process::ExitCode {
    switchyard_app::run()
}
