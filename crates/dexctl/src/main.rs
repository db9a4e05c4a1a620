//! `dexctl`: the p2pdex command-line client.
//!
//! Offline tools (keys, market ids, signing and verifying orders and updates) work without a
//! node. Output is JSON on stdout; errors go to stderr with exit code 1 (usage errors: 2).

mod offline;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

/// p2pdex command-line client.
#[derive(Debug, Parser)]
#[command(name = "dexctl", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trader keys.
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
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Creates a new secp256k1 trader key in a file readable only by its owner (mode 0600)
    /// and prints its address. Never overwrites an existing file.
    New {
        /// Where to write the key (0x-hex private key).
        #[arg(long, default_value = "trader.key")]
        out: PathBuf,
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
        /// File holding the 0x-hex private key.
        #[arg(long)]
        key_file: PathBuf,
        /// Sign even when the key is not the order's maker (the result will not verify).
        #[arg(long)]
        any_signer: bool,
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
        /// File holding the order maker's 0x-hex private key.
        #[arg(long)]
        key_file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Key(KeyCommand::New { out }) => offline::key_new(&out),
        Command::Market(MarketCommand::Id { file }) => offline::market_id(&file),
        Command::Order(OrderCommand::Sign {
            file,
            key_file,
            any_signer,
        }) => offline::order_sign(&file, &key_file, any_signer),
        Command::Order(OrderCommand::Verify { file }) => offline::order_verify(&file),
        Command::Update(UpdateCommand::Sign { file, key_file }) => {
            offline::update_sign(&file, &key_file)
        }
    };
    match result {
        Ok(output) => {
            println!("{output:#}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
