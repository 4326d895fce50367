//! The X11 side of driving the real editor from a test: a parent window like a DAW's, finding the
//! embedded editor, focusing it and typing through the XTEST extension. Needs an X server (run
//! under `xvfb-run -a -s "-screen 0 1024x768x24"`); without `DISPLAY` a test skips, unless
//! `CI=true`.

use std::time::{Duration, Instant};

use counterpart_host_tests::daw::{Activity, Daw};

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

/// Where the prompt box sits in the editor at 100 %, in window pixels (docs/editor.png).
const PROMPT_BOX: (i16, i16) = (300, 68);
/// How long the editor may take to plan what the box holds (the first plan loads the prompt
/// model; a debug bundle on a loaded 2-core machine).
const PLAN_PATIENCE: Duration = Duration::from_secs(60);
/// How long a pressed Return may take to show up as a job before it is pressed again (a press
/// that was only slow and a second one would run the prompt twice).
const SUBMIT_PATIENCE: Duration = Duration::from_secs(120);
/// How many times an editor window that stays black is opened ([`open_until_drawn`]).
const OPENINGS: usize = 3;

/// Opens the plugin's editor with `open` until it draws, up to [`OPENINGS`] times: baseview draws
/// when the X server's Present extension says a frame is due, and on a loaded machine that first
/// notification can go missing, leaving the window black and deaf to keys (seen under Xvfb with
/// the machine fully loaded; closing and reopening the editor recovers). `open` returns `Err` for
/// a window that stayed black; the editor is then hidden and destroyed and `closed` gets the
/// error (to tidy up, e.g. the parent window) before the next opening. The last `Err` when the
/// editor never drew.
pub fn open_until_drawn<T, E>(
    daw: &mut Daw,
    mut open: impl FnMut(&mut Daw) -> Result<T, E>,
    mut closed: impl FnMut(E),
) -> Result<T, E> {
    let mut opening = 1;
    loop {
        let black = match open(daw) {
            Ok(editor) => return Ok(editor),
            Err(black) => black,
        };
        if opening == OPENINGS {
            return Err(black);
        }
        eprintln!("opening {opening}: the editor window stayed black; closing it and opening it again");
        daw.host.gui_hide().expect("hides");
        daw.host.gui_destroy();
        closed(black);
        opening += 1;
    }
}

impl Display {
    /// Writes what `window` shows as a PNG at `path` (24-bit TrueColor servers such as Xvfb's;
    /// anything else is skipped with a note), to see what the editor showed when a test failed.
    pub fn save_png(&self, window: Window, path: &std::path::Path) {
        use x11rb::protocol::xproto::ImageFormat;
        let Some(geometry) = self.conn.get_geometry(window).ok().and_then(|g| g.reply().ok()) else { return };
        let (width, height) = (geometry.width, geometry.height);
        let image = self.conn.get_image(ImageFormat::Z_PIXMAP, window, 0, 0, width, height, !0).ok();
        let Some(image) = image.and_then(|i| i.reply().ok()) else {
            return eprintln!("no screenshot: GetImage failed");
        };
        let stride = image.data.len() / usize::from(height.max(1));
        if stride < usize::from(width) * 4 {
            return eprintln!("no screenshot: {} bytes per row for {width} pixels", stride);
        }
        let mut rgb = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
        for row in image.data.chunks_exact(stride) {
            row.chunks_exact(4).take(usize::from(width)).for_each(|px| rgb.extend([px[2], px[1], px[0]]));
        }
        let Ok(file) = std::fs::File::create(path) else { return };
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width.into(), height.into());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        if let Ok(mut writer) = encoder.write_header() {
            let _ = writer.write_image_data(&rgb);
        }
        eprintln!("the editor as it was: {}", path.display());
    }

    /// Clicks the left button at `(x, y)` of `window`, as a producer clicking into a field does.
    pub fn click(&self, window: Window, (x, y): (i16, i16)) {
        use x11rb::protocol::xproto::{BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, MOTION_NOTIFY_EVENT};
        let at = self.conn.translate_coordinates(window, self.root(), x, y).expect("X").reply().expect("X");
        let root = self.root();
        self.conn
            .xtest_fake_input(MOTION_NOTIFY_EVENT, 0, x11rb::CURRENT_TIME, root, at.dst_x, at.dst_y, 0)
            .expect("move");
        self.conn.sync().expect("X round trip");
        for kind in [BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT] {
            self.conn.xtest_fake_input(kind, 1, x11rb::CURRENT_TIME, root, 0, 0, 0).expect("click");
            self.conn.sync().expect("X round trip");
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Whether `window` shows anything but one colour (a window that never drew is all black).
    pub fn is_drawn(&self, window: Window) -> bool {
        use x11rb::protocol::xproto::ImageFormat;
        let Some(geometry) = self.conn.get_geometry(window).ok().and_then(|g| g.reply().ok()) else { return false };
        let image = self.conn.get_image(ImageFormat::Z_PIXMAP, window, 0, 0, geometry.width, geometry.height, !0);
        let Some(image) = image.ok().and_then(|i| i.reply().ok()) else { return false };
        let first = image.data.get(..3).unwrap_or_default();
        image.data.chunks_exact(4).any(|px| &px[..3] != first)
    }

    /// Opens the plugin's editor embedded in a new parent window the way a DAW does, lets it draw
    /// for 3 s while `play` keeps the host playing (`play(daw, frames)`) and returns its window
    /// once it shows something, or `None` after 30 s of a black window.
    fn open_editor(&self, daw: &mut Daw, play: &mut impl FnMut(&mut Daw, usize)) -> Option<Window> {
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
        while settle.elapsed() < Duration::from_secs(3) || !self.is_drawn(editor) {
            if settle.elapsed() > Duration::from_secs(30) {
                return None;
            }
            play(daw, 4096);
        }
        Some(editor)
    }

    /// Opens the editor ([`Self::open_editor`]), gives it the keyboard focus and types `text`.
    /// An editor window that never draws is closed and opened again ([`open_until_drawn`]).
    /// Before pressing Return it makes sure the text arrived: the editor plans what its box holds
    /// once typing pauses, and the plugin's saved activity lists that plan ("plan: <text>"); when
    /// it does not (keys lost), it clicks into the box, clears it and types again, up to three
    /// times. After Return it waits until the job ("write: <text>") is listed, pressing Return once
    /// more if it still is not after [`SUBMIT_PATIENCE`] (a press that was only slow then runs the
    /// prompt twice: callers must allow for a second job). Panics with the plugin's activity when
    /// the text or the job never arrives.
    pub fn open_editor_and_type(&self, daw: &mut Daw, mut play: impl FnMut(&mut Daw, usize), text: &str) {
        let opened = open_until_drawn(daw, |daw| self.open_editor(daw, &mut play).ok_or(()), |()| {});
        let editor = opened.expect("the editor window never drew in three openings");
        self.focus(editor);

        let (plan, job) = (format!("plan: {text}"), format!("write: {text}"));
        let mut planned = false;
        for attempt in 1..=3 {
            if attempt > 1 {
                self.click(editor, PROMPT_BOX);
                for _ in 0..64 {
                    self.tap(0xff08); // BackSpace
                }
            }
            for c in text.chars() {
                self.tap(c as u32);
            }
            let typed = Instant::now();
            planned = wait_for(daw, &mut play, PLAN_PATIENCE, |activity| activity.seen(&plan));
            if planned {
                eprintln!("the editor planned \"{text}\" {:.1} s after typing", typed.elapsed().as_secs_f64());
                break;
            }
            eprintln!("typing attempt {attempt}: the editor never planned \"{text}\": {}", daw.saved_activity());
            let shot = std::env::temp_dir().join(format!("counterpart-editor-{}-{attempt}.png", std::process::id()));
            self.save_png(editor, &shot);
        }
        assert!(planned, "the typed prompt never reached the editor's box: {}", daw.saved_activity());

        for press in 1..=2 {
            self.tap(0xff0d); // Return
            if wait_for(daw, &mut play, SUBMIT_PATIENCE, |activity| activity.seen(&job)) {
                return;
            }
            eprintln!("Return {press}: no job \"{job}\" was listed: {}", daw.saved_activity());
            let shot =
                std::env::temp_dir().join(format!("counterpart-editor-{}-return-{press}.png", std::process::id()));
            self.save_png(editor, &shot);
        }
        panic!("pressing Return never ran the prompt: {}", daw.saved_activity());
    }
}

/// Keeps the host playing until `done` holds for the plugin's saved activity, or `patience` runs
/// out (false, after a last look at the activity the last play left).
fn wait_for(
    daw: &mut Daw,
    play: &mut impl FnMut(&mut Daw, usize),
    patience: Duration,
    mut done: impl FnMut(&Activity) -> bool,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < patience {
        if done(&daw.saved_activity()) {
            return true;
        }
        play(daw, 4096);
    }
    done(&daw.saved_activity())
}
