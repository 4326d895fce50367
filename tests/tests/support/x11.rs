//! The X11 side of driving the real editor from a test: a parent window like a DAW's, finding the
//! embedded editor, focusing it and typing through the XTEST extension. Needs an X server (run
//! under `xvfb-run -a -s "-screen 0 1024x768x24"`); without `DISPLAY` a test skips, unless
//! `CI=true`.

use std::time::{Duration, Instant};

use counterpart_host_tests::daw::Daw;

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, InputFocus, MapState, Window, WindowClass};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// A connection to the X server the editor draws on.
pub struct Display {
    conn: RustConnection,
    screen: usize,
}

impl Display {
    /// The X server in `DISPLAY`; `None` (after saying why) when there is none outside CI.
    pub fn connect_or_skip() -> Option<Self> {
        if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "DISPLAY is not set but CI=true: run under `xvfb-run -a -s \"-screen 0 1024x768x24\"`"
            );
            eprintln!("skipped: DISPLAY is not set (run under xvfb-run to drive the editor)");
            return None;
        }
        let (conn, screen) = x11rb::connect(None).expect("DISPLAY is set and the X server answers");
        Some(Self { conn, screen })
    }

    pub fn root(&self) -> Window {
        self.conn.setup().roots[self.screen].root
    }

    /// A mapped top-level window of `size`, like the one a DAW gives a plugin editor.
    pub fn create_parent(&self, (width, height): (u32, u32)) -> Window {
        let screen = &self.conn.setup().roots[self.screen];
        let window = self.conn.generate_id().expect("X id");
        let aux = CreateWindowAux::new().background_pixel(screen.black_pixel);
        let (w, h) = (u16::try_from(width).unwrap(), u16::try_from(height).unwrap());
        self.conn
            .create_window(
                x11rb::COPY_DEPTH_FROM_PARENT,
                window,
                screen.root,
                0,
                0,
                w,
                h,
                0,
                WindowClass::INPUT_OUTPUT,
                0,
                &aux,
            )
            .expect("creates the parent window");
        self.conn.map_window(window).expect("maps the parent window");
        self.conn.sync().expect("X round trip");
        window
    }

    /// The viewable window of `size` under `parent`: the plugin's editor.
    pub fn find_editor(&self, parent: Window, size: (u32, u32)) -> Option<Window> {
        let tree = self.conn.query_tree(parent).ok()?.reply().ok()?;
        tree.children.into_iter().find_map(|child| {
            let geometry = self.conn.get_geometry(child).ok()?.reply().ok()?;
            let attributes = self.conn.get_window_attributes(child).ok()?.reply().ok()?;
            let viewable = attributes.map_state == MapState::VIEWABLE;
            let matches = (u32::from(geometry.width), u32::from(geometry.height)) == size && viewable;
            if matches { Some(child) } else { self.find_editor(child, size) }
        })
    }

    /// Gives `window` the keyboard focus, as clicking into a plugin window does.
    pub fn focus(&self, window: Window) {
        self.conn.set_input_focus(InputFocus::PARENT, window, x11rb::CURRENT_TIME).expect("focus");
        self.conn.sync().expect("X round trip");
    }

    /// The keycode that types `keysym` without modifiers.
    pub fn keycode(&self, keysym: u32) -> u8 {
        let setup = self.conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let map = self.conn.get_keyboard_mapping(min, max - min + 1).expect("keymap").reply().expect("keymap");
        let per = usize::from(map.keysyms_per_keycode.max(1));
        let index = map.keysyms.chunks(per).position(|syms| syms[0] == keysym);
        let index = index.unwrap_or_else(|| panic!("no key types keysym {keysym:#x} on this X server"));
        min + u8::try_from(index).expect("keycode fits")
    }

    /// Presses and releases the key for `keysym` through XTEST.
    pub fn tap(&self, keysym: u32) {
        let code = self.keycode(keysym);
        for kind in [x11rb::protocol::xproto::KEY_PRESS_EVENT, x11rb::protocol::xproto::KEY_RELEASE_EVENT] {
            self.conn.xtest_fake_input(kind, code, x11rb::CURRENT_TIME, self.root(), 0, 0, 0).expect("fake key");
            self.conn.sync().expect("X round trip");
            std::thread::sleep(Duration::from_millis(15));
        }
    }
}

impl Display {
    /// Opens the plugin's editor embedded in a new parent window the way a DAW does, lets it draw
    /// for 3 s while `play` keeps the host playing (`play(daw, frames)`), then gives it the
    /// keyboard focus and types `text` followed by Return.
    pub fn open_editor_and_type(&self, daw: &mut Daw, mut play: impl FnMut(&mut Daw, usize), text: &str) {
        daw.host.gui_create("x11", false).expect("creates the editor");
        daw.host.gui_set_scale(1.0).expect("scale 1");
        let size = daw.host.gui_get_size().expect("reports its size");
        let parent = self.create_parent(size);
        daw.host.gui_set_parent(u64::from(parent)).expect("embeds in the parent");
        daw.host.gui_show().expect("shows");
        let deadline = Instant::now() + Duration::from_secs(30);
        let editor = loop {
            play(daw, 2048);
            if let Some(editor) = self.find_editor(parent, size) {
                break editor;
            }
            assert!(Instant::now() < deadline, "the editor window never appeared");
        };
        // Let it draw its first frames (the prompt takes the keyboard focus when the editor opens).
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_secs(3) {
            play(daw, 4096);
        }
        self.focus(editor);
        for c in text.chars() {
            self.tap(c as u32);
        }
        self.tap(0xff0d); // Return
    }
}
