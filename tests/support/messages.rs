//! Checks on error and panic messages, shared by the test crates (`#[path]`-included).

/// The message of the panic `f` raises.
pub fn panic_message(f: impl FnOnce()) -> String {
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// `message` names every one of `parts`.
pub fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} does not mention {part:?}"
        );
    }
}

/// The message and the source file of the panic `f` raises: the file a `#[track_caller]`
/// chain reports, which should be the caller's, not the library's.
pub fn panic_site(f: impl FnOnce()) -> (String, String) {
    use std::cell::RefCell;
    use std::sync::Once;
    thread_local! {
        static SITE: RefCell<Option<String>> = const { RefCell::new(None) };
    }
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file().to_string());
            SITE.with_borrow_mut(|s| *s = file);
            previous(info);
        }));
    });
    let message = panic_message(f);
    let file = SITE.with_borrow_mut(Option::take).unwrap_or_default();
    (message, file)
}
