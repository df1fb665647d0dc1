//! Plugin packages from disk are verified before the gallery lists them:
//! signed by a trusted vendor key, unchanged since signing.

use std::path::Path;

use ed25519_dalek::SigningKey;
use homeroom_host::gallery::Package;
use homeroom_host::gallery::package::{PackageError, sign_dir};
use homeroom_host::testing::TEST_PLUGINS_DIR;

fn copy_package(to: &Path) {
    let from = Path::new(TEST_PLUGINS_DIR).join("hostile-rule");
    for f in ["manifest.toml", "plugin.wasm"] {
        std::fs::copy(from.join(f), to.join(f)).expect("copy package file");
    }
}

#[test]
fn signed_packages_verify_and_tampered_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    copy_package(dir.path());
    let vendor = SigningKey::from_bytes(&[7u8; 32]);
    let stranger = SigningKey::from_bytes(&[9u8; 32]);
    let trusted = [vendor.verifying_key()];

    let unsigned = Package::from_dir(dir.path(), Some(&trusted)).unwrap_err();
    assert!(matches!(unsigned, PackageError::Unsigned(_)), "{unsigned}");
    assert!(unsigned.to_string().contains("homeroom plugin sign"));

    sign_dir(dir.path(), &vendor).unwrap();
    let ok = Package::from_dir(dir.path(), Some(&trusted)).unwrap();
    assert_eq!(ok.id(), "hostile-rule");

    // Signed by a key nobody trusts here.
    sign_dir(dir.path(), &stranger).unwrap();
    let err = Package::from_dir(dir.path(), Some(&trusted)).unwrap_err();
    assert!(matches!(err, PackageError::BadSignature(_)), "{err}");

    // Changed after signing: one byte of the component.
    sign_dir(dir.path(), &vendor).unwrap();
    let wasm = dir.path().join("plugin.wasm");
    let mut bytes = std::fs::read(&wasm).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&wasm, bytes).unwrap();
    let err = Package::from_dir(dir.path(), Some(&trusted)).unwrap_err();
    assert!(matches!(err, PackageError::BadSignature(_)), "{err}");
    assert!(err.to_string().contains("changed after signing"));

    // A manifest edit after signing is caught too.
    copy_package(dir.path());
    sign_dir(dir.path(), &vendor).unwrap();
    let manifest = dir.path().join("manifest.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("Hostile rule (test only)", "Totally safe rule"),
    )
    .unwrap();
    assert!(matches!(
        Package::from_dir(dir.path(), Some(&trusted)),
        Err(PackageError::BadSignature(_))
    ));
}
