//! The admin UI's browser harness: headless Chromium through chromedriver on
//! loopback (fantoccini over plain HTTP), and the few steps every browser
//! test takes (find, click, fill, wait for text, screenshot). Each browser
//! test file starts its own host and walks its own story.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver and the Chromium binary, if this machine has them.
pub fn browser() -> Option<(PathBuf, PathBuf)> {
    let driver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| which("chromedriver"))?;
    let chrome = std::env::var_os("CHROME_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .find_map(|n| which(n))
        })?;
    Some((driver, chrome))
}

/// chromedriver, stopped when dropped.
pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub async fn start_driver(path: &Path) -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start listening in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (driver, port)
}

pub struct Ui {
    pub c: Client,
    pub base: String,
    pub shots: PathBuf,
}

impl Ui {
    pub async fn go(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    pub async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        match self
            .c
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(selector))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                let url = self
                    .c
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                let html = self.source().await;
                panic!("no `{selector}` on {url}: {e}\n{}", visible_text(&html));
            }
        }
    }

    /// The value of the input the selector finds.
    pub async fn value(&self, selector: &str) -> String {
        self.css(selector)
            .await
            .prop("value")
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Click what the selector finds; an element the page replaced between
    /// finding and clicking (a page still settling) is found again.
    pub async fn click(&self, selector: &str) {
        let mut tries = 0;
        loop {
            match self.css(selector).await.click().await {
                Ok(()) => return,
                Err(e) if tries < 5 && e.to_string().contains("stale element") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => panic!("click `{selector}`: {e}"),
            }
        }
    }

    pub async fn fill(&self, selector: &str, text: &str) {
        let e = self.css(selector).await;
        e.clear().await.ok();
        e.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into `{selector}`: {e}"));
    }

    pub async fn source(&self) -> String {
        self.c.source().await.expect("page source")
    }

    /// Wait until the page holds `text`, reloading as needed.
    pub async fn until_text(&self, text: &str, reload: bool, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let html = self.source().await;
            if html.contains(text) {
                return html;
            }
            assert!(
                Instant::now() < deadline,
                "`{text}` did not appear in {secs} s; the page says:\n{}",
                visible_text(&html)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            if reload {
                self.c.refresh().await.ok();
            }
        }
    }

    /// A screenshot of the whole page.
    pub async fn shot(&self, name: &str) {
        self.shot_at(name, 1366).await
    }

    /// A screenshot of the whole page in a window `width` pixels wide.
    pub async fn shot_at(&self, name: &str, width: u32) {
        self.c.set_window_size(width, 1000).await.ok();
        let height = self
            .c
            .execute(
                "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight, 800);",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(900)
            .min(6000) as u32;
        self.c.set_window_size(width, height + 20).await.ok();
        self.c.execute("window.scrollTo(0, 0);", vec![]).await.ok();
        // Let the larger window paint before the capture.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self.c.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
        self.c.set_window_size(1366, 1000).await.ok();
    }
}

/// A page's text without its markup, for failure messages.
pub fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut tag = false;
    for ch in html.chars() {
        match ch {
            '<' => tag = true,
            '>' => {
                tag = false;
                out.push(' ');
            }
            c if !tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(3000)
        .collect()
}

/// chromedriver and Chromium, or none when this machine lacks them (the
/// caller skips), except under HOMEROOM_REQUIRE_BROWSER=1 (CI), where a
/// missing browser fails the test with how to install it.
pub fn browser_or_skip() -> Option<(PathBuf, PathBuf)> {
    let Some(found) = browser() else {
        if std::env::var("HOMEROOM_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!(
                "HOMEROOM_REQUIRE_BROWSER=1 but chromium and chromedriver were not found on PATH: \
                 install Debian's `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver), \
                 or point CHROME_BIN and CHROMEDRIVER at them"
            );
        }
        eprintln!(
            "browser test skipped: chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)"
        );
        return None;
    };
    Some(found)
}

/// A headless Chromium session on the UI at `base`, its screenshots in
/// tests/screenshots/. Keep the driver as long as the session.
pub async fn open(driver_bin: &Path, chrome: &Path, base: String) -> (Driver, Ui) {
    let (driver, port) = start_driver(driver_bin).await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chrome.display().to_string(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1366,1000", "--force-device-scale-factor=1", "--lang=en-US"],
        }),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromedriver session");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots folder");
    (driver, Ui { c, base, shots })
}
