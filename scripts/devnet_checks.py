"""What the devnet test scripts (trading-page-test.py, ccxt-test.py) share: printed checks,
waiting for a condition with a deadline, a chain's JSON-RPC, the gas a transaction paid, and
the exit code of a run."""

import json
import sys
import time
import urllib.request
from decimal import Decimal


def ok(what):
    print(f"  ok  {what}")


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    ok(what)


def wait_for(what, probe, secs=60):
    """`probe()`'s first truthy value, asked every 0.2 s for at most `secs` seconds."""
    deadline = time.monotonic() + secs
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {secs} s")
        time.sleep(0.2)


def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def gas_eth(chain_url, tx_hash):
    """What the transaction paid for gas, in the chain's native coin, and its receipt."""
    receipt = rpc(chain_url, "eth_getTransactionReceipt", [tx_hash])
    wei = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    return Decimal(wei) / Decimal(10**18), receipt


def run(main):
    """Runs `main`; a failed check ends the script with its message and exit code 1."""
    try:
        main()
    except AssertionError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        sys.exit(1)
