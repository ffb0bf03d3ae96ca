//! TLS material: a throw-away test CA made with rcgen, a leaf it signs for the loopback
//! names, and the rustls server config that presents it.

use std::sync::Arc;

/// A fresh CA (returned as PEM) and a server config whose leaf is signed by it.
pub(super) fn server_config() -> (rustls::ServerConfig, String) {
    server_config_valid_from(None)
}

/// The same, with a leaf valid only from 1 January of `year` (a clock behind it sees
/// "not valid yet", as a router that booted without an RTC does).
pub(super) fn server_config_valid_from(year: Option<i32>) -> (rustls::ServerConfig, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate().expect("provider: CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("provider: CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "dynhost test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("provider: CA cert");
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().expect("provider: leaf key");
    let mut leaf_params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .expect("provider: leaf params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    if let Some(year) = year {
        leaf_params.not_before = rcgen::date_time_ymd(year, 1, 1);
        leaf_params.not_after = rcgen::date_time_ymd(year + 1, 1, 1);
    }
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("provider: leaf cert");

    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("provider: TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .expect("provider: server cert");
    (config, ca_cert.pem())
}
