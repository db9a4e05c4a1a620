//! `dexctl`: the p2pdex command-line client.
//!
//! API commands (`info`, `book`, `order place`, ...) call a node's HTTP API: the URL and the
//! token come from `--url`/`--token` (or `DEX_URL`/`DEX_TOKEN`), else from the node's data
//! dir (`--data-dir`, `DEX_DATA_DIR`, default `~/.p2pdex`: `api.url`, `api.token`). They
//! print tables, or the API's JSON with `--json`; a refused call prints the problem's title
//! and detail and exits 1.
//!
//! Offline tools (keys, market ids, signing and verifying orders and updates) work without a
//! node and print JSON. Errors go to stderr with exit code 1 (usage errors: 2).
//!
//! Key files are Web3 Secret Storage v3 keystores (encrypted JSON, as geth, Foundry's `cast
//! wallet` and eth-account read and write). Their password comes from `--password-file`,
//! else `DEX_KEY_PASSWORD`, else a prompt when stdin is a terminal. Plain hex key files are
//! read or written only with `--insecure-plain-key`.

mod offline;
mod online;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use dex_api::types::SideName;
use dex_keyfile::PasswordSources;
use dex_primitives::KdfStrength;
use offline::{ImportFormat, KeyAccess};

/// p2pdex command-line client.
#[derive(Debug, Parser)]
#[command(name = "dexctl", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Where the node is and how to print.
#[derive(Debug, Args)]
struct Global {
    /// The node's data dir: the API URL and token are read from it (and `key import` writes
    /// to it). Default ~/.p2pdex.
    #[arg(long, global = true, env = "DEX_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The API URL (default: <data dir>/api.url, else http://127.0.0.1:7780).
    #[arg(long, global = true, env = "DEX_URL")]
    url: Option<String>,
    /// The API token (default: <data dir>/api.token).
    #[arg(long, global = true, env = "DEX_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trader keys: new, import, export. Keys are kept in encrypted Web3 Secret Storage v3
    /// keystores; the password comes from --password-file, DEX_KEY_PASSWORD, or the
    /// terminal.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Market definitions.
    #[command(subcommand)]
    Market(MarketCommand),
    /// Orders: sign and verify EIP-712 orders.
    #[command(subcommand)]
    Order(OrderCommand),
    /// Order updates (lower an order's remaining quantity; 0 cancels).
    #[command(subcommand)]
    Update(UpdateCommand),
    /// Is the node's API up?
    Health,
    /// The link that opens the node's trading page in a browser, signed in: it carries
    /// the API token in its fragment (after `#`), which browsers never send to a server.
    /// Treat it like the token.
    Ui,
    /// The node: peer id, listen addresses, traders, version.
    Info,
    /// Connected peers.
    Peers,
    /// The node's markets with their lot and tick.
    Markets,
    /// Aggregated depth of a market.
    Book {
        /// Market symbol (ETH/USDC) or id.
        market: String,
        /// Levels per side.
        #[arg(long, default_value_t = 20)]
        depth: usize,
    },
    /// Recent trades of a market seen by the node.
    Trades {
        /// Market symbol or id.
        market: String,
    },
    /// The most recently changed swaps, or one swap with its event history.
    Swaps {
        /// A swap id.
        id: Option<String>,
        /// How many swaps to list, 1 to 1000 (the node's default: 100).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: Option<u32>,
    },
    /// Balances per asset: on chain, locked in swaps, reserved by orders.
    Balances,
}

/// Where a keystore's password comes from.
#[derive(Debug, Args)]
struct PasswordArgs {
    /// A file whose first line is the keystore password (keep it mode 0600). Without it:
    /// the DEX_KEY_PASSWORD environment variable, else a prompt when stdin is a terminal
    /// (a new password is asked twice); else the command fails.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

impl PasswordArgs {
    fn sources(&self) -> PasswordSources {
        PasswordSources::new(self.password_file.clone())
    }
}

/// How a new keystore is encrypted.
#[derive(Debug, Args)]
struct KdfArgs {
    /// Cheaper scrypt parameters for new keystores (geth's --lightkdf: n = 4096, p = 6, 4 MiB)
    /// instead of geth's standard ones (n = 262144, p = 1, 256 MiB, about a second): each
    /// password guess costs an attacker far less. For tests and small machines.
    #[arg(long)]
    light_kdf: bool,
}

impl KdfArgs {
    fn strength(&self) -> KdfStrength {
        if self.light_kdf {
            KdfStrength::Light
        } else {
            KdfStrength::Standard
        }
    }
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Creates a new trader key in an encrypted keystore file and prints its address.
    ///
    /// The secp256k1 key is written as a Web3 Secret Storage v3 keystore (scrypt with
    /// geth's standard parameters, AES-128-CTR; geth, cast wallet and eth-account open it)
    /// into a new file readable only by its owner (mode 0600). The password: --password-file,
    /// else DEX_KEY_PASSWORD, else typed twice on the terminal. Never overwrites a file. To
    /// use it in a node: dexctl key import <file>.
    New {
        /// Where to write the keystore.
        #[arg(long, default_value = "trader.key")]
        out: PathBuf,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        kdf: KdfArgs,
        /// Write the key as plain, unencrypted 0x hex instead: anyone who can read the
        /// file has the key. Only for throwaway keys (devnets, tests).
        #[arg(long, conflicts_with_all = ["light_kdf", "password_file"])]
        insecure_plain_key: bool,
    },
    /// Imports a keystore (or with --hex a hex key) into a node's data dir as trader.key.
    ///
    /// FILE is a Web3 Secret Storage v3 keystore, e.g. written by geth, cast wallet,
    /// eth-account or `dexctl key new`: it is opened with its password to check it, then
    /// stored as it is in <data dir>/trader.key (mode 0600), and dexd opens it with the same
    /// password. With --hex, FILE holds a 0x-hex private key instead, which is stored
    /// encrypted with a new password. FILE may be `-` (stdin; the password must then come
    /// from --password-file or DEX_KEY_PASSWORD); a key is never read from the command line.
    /// Refuses to overwrite a key or to touch the data dir of a running dexd.
    Import {
        /// The keystore (or with --hex, the 0x-hex private key); `-` reads stdin.
        file: PathBuf,
        /// FILE holds a plain 0x-hex private key, not a keystore. It is encrypted for
        /// storage unless --insecure-plain-key.
        #[arg(long)]
        hex: bool,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        kdf: KdfArgs,
        /// Store the key as plain, unencrypted 0x hex (dexd then needs
        /// --insecure-plain-key too): anyone who can read the file has the key. Only for
        /// throwaway keys.
        #[arg(long, conflicts_with = "light_kdf")]
        insecure_plain_key: bool,
    },
    /// Exports a node's trader key (a keystore, or with --insecure-plain-hex plain hex).
    ///
    /// Writes <data dir>/trader.key into a new file (mode 0600): the keystore as it is,
    /// opened first with its password so that the copy is known to open (a plain devnet
    /// key, with --insecure-plain-key, is encrypted with a new password); or, with
    /// --insecure-plain-hex, the private key in clear. Prints the address.
    Export {
        /// Where to write it; never overwritten.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        password: PasswordArgs,
        /// Write the private key UNENCRYPTED, as 0x hex: anyone who reads the file has the
        /// key. Only to hand it to a tool that reads no keystores; delete it after.
        #[arg(long)]
        insecure_plain_hex: bool,
        /// The data dir's trader.key may be plain hex (a devnet's); it is exported as a
        /// new keystore with a new password (or, with --insecure-plain-hex, as it is).
        #[arg(long)]
        insecure_plain_key: bool,
        #[command(flatten)]
        kdf: KdfArgs,
    },
}

#[derive(Debug, Subcommand)]
enum MarketCommand {
    /// Prints the market id (EIP-712 hashStruct of `Market`) of a market JSON file with the
    /// camelCase fields baseChain, baseToken, quoteChain, quoteToken, basePerLot,
    /// quotePerTickLot (uint256 values as decimal strings or numbers). A full market
    /// definition with symbols and decimals is accepted too. `-` reads stdin.
    Id {
        /// The market JSON file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum OrderCommand {
    /// Signs an order message (JSON with the EIP-712 field names) and prints
    /// `{"order", "signature", "orderId"}`. Trading rules (market, clock) are checked by the
    /// node, not here. `-` reads stdin.
    Sign {
        /// The order message JSON file.
        file: PathBuf,
        /// The maker's key file: a keystore (or plain hex with --insecure-plain-key).
        #[arg(long)]
        key_file: PathBuf,
        #[command(flatten)]
        password: PasswordArgs,
        /// Accept a plain, unencrypted 0x-hex key file.
        #[arg(long)]
        insecure_plain_key: bool,
        /// Sign even when the key is not the order's maker (the result will not verify).
        #[arg(long)]
        any_signer: bool,
    },
    /// Places an order the node signs with its trader key, e.g.
    /// `dexctl order place --market ETH/USDC --side buy --price 2500.5 --quantity 0.25`.
    Place {
        /// Market symbol or id.
        #[arg(long)]
        market: String,
        /// buy or sell (the base asset).
        #[arg(long, value_parser = parse_side)]
        side: SideName,
        /// Limit price, a multiple of the market's tick.
        #[arg(long)]
        price: String,
        /// Quantity, a multiple of the market's lot.
        #[arg(long)]
        quantity: String,
        /// Smallest fill accepted (default one lot).
        #[arg(long)]
        min_fill: Option<String>,
        /// Immediate or cancel: what does not fill at once is cancelled.
        #[arg(long)]
        ioc: bool,
        /// Lifetime in seconds (default: the node's).
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// Posts an order signed elsewhere (the JSON of `dexctl order sign`) to the node, which
    /// must hold the maker's key. `-` reads stdin.
    Submit {
        /// The signed order JSON file.
        file: PathBuf,
    },
    /// Cancels an own order, or all of them with --all.
    Cancel {
        /// The order id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Cancel every own open order (of --market only, if given).
        #[arg(long)]
        all: bool,
        /// With --all: only this market.
        #[arg(long, requires = "all")]
        market: Option<String>,
    },
    /// The most recently placed own orders.
    List {
        /// Only this market.
        #[arg(long)]
        market: Option<String>,
        /// Only this status (open, filled, cancelled, expired).
        #[arg(long)]
        status: Option<String>,
        /// How many orders to list, 1 to 1000 (the node's default: 100).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: Option<u32>,
    },
    /// One own order with its fills and swaps.
    Show {
        /// The order id.
        id: String,
    },
    /// Verifies a signed order `{"order", "signature"}` and prints the signer and order id.
    /// Exits 1 if the signature is malformed, high-s, has v other than 27/28, or is not by
    /// the maker. `-` reads stdin.
    Verify {
        /// The signed order JSON file (the output of `dexctl order sign` is accepted).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum UpdateCommand {
    /// Signs an update message `{"orderId", "remaining", "timestamp"}` and prints
    /// `{"update", "signature", "digest"}`. `-` reads stdin.
    Sign {
        /// The update message JSON file.
        file: PathBuf,
        /// The order maker's key file: a keystore (or plain hex with --insecure-plain-key).
        #[arg(long)]
        key_file: PathBuf,
        #[command(flatten)]
        password: PasswordArgs,
        /// Accept a plain, unencrypted 0x-hex key file.
        #[arg(long)]
        insecure_plain_key: bool,
    },
}

fn parse_side(text: &str) -> Result<SideName, String> {
    match text.to_ascii_lowercase().as_str() {
        "buy" => Ok(SideName::Buy),
        "sell" => Ok(SideName::Sell),
        _ => Err(format!("{text:?} is not a side: buy or sell")),
    }
}

/// The data dir: `--data-dir`, `DEX_DATA_DIR`, or `~/.p2pdex`.
fn data_dir_or_default(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_owned)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".p2pdex")))
}

/// An offline command's JSON, or an API command's output.
enum Printed {
    Json(serde_json::Value),
    Api(online::Output),
}

fn run(cli: Cli) -> Result<Printed> {
    let global = &cli.global;
    let client = || {
        dex_client::Client::discover(
            global.url.as_deref(),
            global.token.as_deref(),
            data_dir_or_default(global.data_dir.as_deref()).as_deref(),
        )
    };
    let api = |output: Result<online::Output>| output.map(Printed::Api);
    let data_dir = || {
        data_dir_or_default(global.data_dir.as_deref())
            .ok_or_else(|| anyhow::anyhow!("no data dir: pass --data-dir"))
    };
    let access = |plain: bool, password: &PasswordArgs, strength: KdfStrength| KeyAccess {
        plain,
        strength,
        passwords: password.sources(),
    };
    match cli.command {
        Command::Key(KeyCommand::New {
            out,
            password,
            kdf,
            insecure_plain_key,
        }) => offline::key_new(&out, &access(insecure_plain_key, &password, kdf.strength()))
            .map(Printed::Json),
        Command::Key(KeyCommand::Import {
            file,
            hex,
            password,
            kdf,
            insecure_plain_key,
        }) => {
            let format = if hex {
                ImportFormat::Hex
            } else {
                ImportFormat::Keystore
            };
            let access = access(insecure_plain_key, &password, kdf.strength());
            offline::key_import(&file, format, &data_dir()?, &access).map(Printed::Json)
        }
        Command::Key(KeyCommand::Export {
            out,
            password,
            insecure_plain_hex,
            insecure_plain_key,
            kdf,
        }) => {
            let access = access(insecure_plain_key, &password, kdf.strength());
            offline::key_export(&data_dir()?, &out, insecure_plain_hex, &access).map(Printed::Json)
        }
        Command::Market(MarketCommand::Id { file }) => offline::market_id(&file).map(Printed::Json),
        Command::Order(OrderCommand::Sign {
            file,
            key_file,
            password,
            insecure_plain_key,
            any_signer,
        }) => {
            let access = access(insecure_plain_key, &password, KdfStrength::Standard);
            offline::order_sign(&file, &key_file, &access, any_signer).map(Printed::Json)
        }
        Command::Order(OrderCommand::Verify { file }) => {
            offline::order_verify(&file).map(Printed::Json)
        }
        Command::Update(UpdateCommand::Sign {
            file,
            key_file,
            password,
            insecure_plain_key,
        }) => {
            let access = access(insecure_plain_key, &password, KdfStrength::Standard);
            offline::update_sign(&file, &key_file, &access).map(Printed::Json)
        }
        Command::Order(OrderCommand::Place {
            market,
            side,
            price,
            quantity,
            min_fill,
            ioc,
            expires_in,
        }) => api(online::order_place(
            &client()?,
            online::Place {
                market: &market,
                side,
                price: &price,
                quantity: &quantity,
                min_fill: min_fill.as_deref(),
                ioc,
                expires_in,
            },
        )),
        Command::Order(OrderCommand::Submit { file }) => {
            api(online::order_submit(&client()?, &file))
        }
        Command::Order(OrderCommand::Cancel { id, all, market }) => match (all, id) {
            (true, _) => api(online::order_cancel_all(&client()?, market.as_deref())),
            (false, Some(id)) => api(online::order_cancel(&client()?, &id)),
            (false, None) => Err(anyhow::anyhow!("give an order id or --all")),
        },
        Command::Order(OrderCommand::List {
            market,
            status,
            limit,
        }) => api(online::order_list(
            &client()?,
            market.as_deref(),
            status.as_deref(),
            limit,
        )),
        Command::Order(OrderCommand::Show { id }) => api(online::order_show(&client()?, &id)),
        Command::Health => api(online::health(&client()?)),
        Command::Ui => api(online::ui(&client()?)),
        Command::Info => api(online::info(&client()?)),
        Command::Peers => api(online::peers(&client()?)),
        Command::Markets => api(online::markets(&client()?)),
        Command::Book { market, depth } => api(online::book(&client()?, &market, depth)),
        Command::Trades { market } => api(online::trades(&client()?, &market)),
        Command::Swaps { id, limit } => api(online::swaps(&client()?, id.as_deref(), limit)),
        Command::Balances => api(online::balances(&client()?)),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli) {
        Ok(Printed::Json(output)) => {
            println!("{output:#}");
            ExitCode::SUCCESS
        }
        Ok(Printed::Api(output)) => {
            if json {
                println!("{:#}", output.json);
            } else {
                println!("{}", output.text);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
