// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title Hash time-locked contract for ETH and any ERC-20, one instance per chain.
/// @notice A sender locks funds for a recipient under `hashlock = sha256(secret)` until
/// `timelock` (unix seconds, chain time). Before the timelock anyone holding the secret can
/// pay the funds out to the recipient (`claim`, which publishes the secret in `Claimed`);
/// from the timelock on, the sender alone can take them back (`refund`).
/// @dev Gas design: a swap costs one storage slot. The slot is keyed by
/// `id = keccak256(abi.encode(block.chainid, address(this), sender, recipient, token, amount,
/// hashlock, timelock))` and holds only the state plus a few numbers a client wants to read
/// back, so `claim` and `refund` take the lock's parameters as calldata and prove them by
/// recomputing the id. Every parameter is also in the `Locked` event, so anyone can recover
/// them from the id. The chain id and the contract's address make an id name one lock on one
/// chain: the two legs of a swap share every other parameter shape, and the HTLC may sit at
/// the same address on both chains, yet no id (in a log, a message or a store) can be taken
/// for the other leg's.
/// Reentrancy: each function checks and writes its single slot before any external call
/// (checks-effects-interactions); a reentrant call sees the new state and is rejected. The
/// token pull of `lock` is also guarded (transient storage) against nested locks, which
/// would otherwise be counted twice by its balance check.
///
/// Supported tokens: ERC-20s whose balances change only by transfers, by exactly the amount
/// transferred (transfer/transferFrom may revert, return `true`, or return nothing, like
/// USDT). A token that delivers less than asked (fee-on-transfer, or a rebase during the
/// pull) is refused by `lock` with `TokenShortfall`. Not supported: tokens whose balances
/// change on their own (rebasing, e.g. stETH; a negative rebase leaves the last claims
/// unpayable). Known limit: tokens that can freeze transfers (blocklists, pauses, e.g. USDC
/// and USDT) can block a claim or a refund for as long as the freeze lasts, whatever this
/// contract does; a swap leg in such a token is only as safe as its issuer is neutral.
contract Htlc {
    /// @notice The parameters of a lock; their ABI encoding, after the chain id and this
    /// contract's address, hashes to the lock's id.
    struct Lock {
        address sender;
        address recipient;
        address token; // address(0) for the chain's native coin
        uint256 amount;
        bytes32 hashlock; // sha256 of the 32-byte secret
        uint64 timelock; // unix seconds: claims strictly before, refunds from then on
    }

    /// @notice Lifecycle of a lock id. `None` ids were never locked.
    enum State {
        None,
        Locked,
        Claimed,
        Refunded
    }

    // Slot layout, packed so that a swap writes exactly one slot (20k gas on lock, 2.9k on
    // claim or refund) yet a client can learn everything it needs from the id alone:
    //   bits   0..8    State
    //   bits   8..72   timelock
    //   bits  72..136  block number of the lock (to fetch its Locked event directly)
    //   bits 136..200  block number of the claim or refund (to fetch the secret directly)
    mapping(bytes32 => uint256) private _slots;

    /// @notice Funds were locked. All parameters are here so a counterparty can check the
    /// lock on chain and rebuild the `Lock` for `claim` from the log alone.
    event Locked(
        bytes32 indexed id,
        address indexed sender,
        address indexed recipient,
        address token,
        uint256 amount,
        bytes32 hashlock,
        uint64 timelock
    );
    /// @notice The funds of `id` went to the recipient; `secret` is now public.
    event Claimed(bytes32 indexed id, bytes32 secret);
    /// @notice The funds of `id` went back to the sender.
    event Refunded(bytes32 indexed id);

    /// @notice `amount` is zero.
    error ZeroAmount();
    /// @notice `recipient` is the zero address (claimed ETH would be burnt).
    error ZeroRecipient();
    /// @notice `timelock` is not after the current block's timestamp.
    error TimelockInPast(uint64 timelock, uint256 blockTimestamp);
    /// @notice The ETH sent differs from what the lock needs (`amount` for ETH, 0 for tokens).
    error ValueMismatch(uint256 expected, uint256 received);
    /// @notice A lock with the same parameters from the same sender already exists.
    error AlreadyLocked(bytes32 id);
    /// @notice No lock has these parameters.
    error NotLocked(bytes32 id);
    /// @notice `sha256(secret)` is not the lock's hashlock.
    error WrongSecret(bytes32 id);
    /// @notice The lock was already claimed.
    error AlreadyClaimed(bytes32 id);
    /// @notice The lock was already refunded.
    error AlreadyRefunded(bytes32 id);
    /// @notice A claim at or after the timelock: the funds now belong to the sender's refund.
    error TimelockExpired(bytes32 id, uint64 timelock);
    /// @notice A refund before the timelock: the recipient may still claim.
    error TimelockNotExpired(bytes32 id, uint64 timelock);
    /// @notice Only the lock's sender may refund it.
    error NotSender(bytes32 id, address caller);
    /// @notice An ERC-20 transfer or balance query reverted, returned false, or the token
    /// has no code.
    error TokenTransferFailed(address token);
    /// @notice The token delivered less than the lock's amount (a fee-on-transfer or
    /// rebasing token): the lock would promise more than the contract holds.
    error TokenShortfall(address token, uint256 expected, uint256 received);
    /// @notice `lock` was called again from inside its own token pull.
    error Reentered();
    /// @notice The recipient refused the ETH.
    error EthTransferFailed(address to);

    uint256 private constant STATE_MASK = 0xff;

    /// @dev Set while `lock` pulls tokens, so a nested `lock` cannot inflate the balance
    /// increase the outer one measures.
    uint256 private transient _pulling;

    /// @notice Locks `amount` of `token` (address(0): ETH, sent as msg.value) for
    /// `recipient` until `timelock`. ERC-20s are pulled with transferFrom, so approve first.
    /// The contract's token balance must grow by at least `amount` (see `TokenShortfall`).
    /// @return id keccak256 of the ABI-encoded chain id, this contract's address and the
    /// `Lock` with msg.sender as sender.
    function lock(address recipient, address token, uint256 amount, bytes32 hashlock, uint64 timelock)
        external
        payable
        returns (bytes32 id)
    {
        if (amount == 0) revert ZeroAmount();
        if (recipient == address(0)) revert ZeroRecipient();
        if (timelock <= block.timestamp) revert TimelockInPast(timelock, block.timestamp);
        uint256 expectedValue = token == address(0) ? amount : 0;
        if (msg.value != expectedValue) revert ValueMismatch(expectedValue, msg.value);

        // id = keccak256(abi.encode(block.chainid, address(this), msg.sender, recipient, token,
        // amount, hashlock, timelock)), built in scratch memory past the free memory pointer
        // (~130 gas less than abi.encode; the ABI decoder has already checked the arguments).
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, chainid())
            mstore(add(ptr, 0x20), address())
            mstore(add(ptr, 0x40), caller())
            mstore(add(ptr, 0x60), recipient)
            mstore(add(ptr, 0x80), token)
            mstore(add(ptr, 0xa0), amount)
            mstore(add(ptr, 0xc0), hashlock)
            mstore(add(ptr, 0xe0), timelock)
            id := keccak256(ptr, 0x100)
        }
        if (_slots[id] != 0) revert AlreadyLocked(id);
        _slots[id] = uint256(State.Locked) | (uint256(timelock) << 8) | (block.number << 72);

        emit Locked(id, msg.sender, recipient, token, amount, hashlock, timelock);
        if (token != address(0)) _pullToken(token, amount);
    }

    /// @notice Pays the lock out to its recipient, publishing `secret`. Anyone may call
    /// it (the funds can only go to the recipient), strictly before the timelock.
    function claim(Lock calldata params, bytes32 secret) external {
        bytes32 id = _id(params);
        uint256 slot = _slots[id];
        _requireLocked(id, slot);
        if (block.timestamp >= params.timelock) revert TimelockExpired(id, params.timelock);
        if (sha256(abi.encodePacked(secret)) != params.hashlock) revert WrongSecret(id);
        _slots[id] = (slot & ~STATE_MASK) | uint256(State.Claimed) | (block.number << 136);

        emit Claimed(id, secret);
        _pay(params.token, params.recipient, params.amount);
    }

    /// @notice Pays the lock back to its sender, from the timelock on. Sender only.
    function refund(Lock calldata params) external {
        bytes32 id = _id(params);
        uint256 slot = _slots[id];
        _requireLocked(id, slot);
        if (msg.sender != params.sender) revert NotSender(id, msg.sender);
        if (block.timestamp < params.timelock) revert TimelockNotExpired(id, params.timelock);
        _slots[id] = (slot & ~STATE_MASK) | uint256(State.Refunded) | (block.number << 136);

        emit Refunded(id);
        _pay(params.token, params.sender, params.amount);
    }

    /// @notice What the contract knows of `id`: its state, timelock, and the block numbers
    /// of the lock and of the claim or refund (0 while none).
    function getLock(bytes32 id)
        external
        view
        returns (State state, uint64 timelock, uint64 lockBlock, uint64 settleBlock)
    {
        uint256 slot = _slots[id];
        state = State(slot & STATE_MASK);
        timelock = uint64(slot >> 8);
        lockBlock = uint64(slot >> 72);
        settleBlock = uint64(slot >> 136);
    }

    /// @dev The id of `params` on this chain and contract, as `lock` computes it. The struct's
    /// six words are hashed as they are in calldata (~300 gas less than abi.encode): words
    /// with dirty high bits hash to an id no lock has (`NotLocked`), and the fields used
    /// afterwards are read through the ABI decoder, which rejects dirty values.
    function _id(Lock calldata params) private view returns (bytes32 id) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, chainid())
            mstore(add(ptr, 0x20), address())
            calldatacopy(add(ptr, 0x40), params, 0xc0)
            id := keccak256(ptr, 0x100)
        }
    }

    function _requireLocked(bytes32 id, uint256 slot) private pure {
        uint256 state = slot & STATE_MASK;
        if (state == uint256(State.Locked)) return;
        if (state == uint256(State.None)) revert NotLocked(id);
        if (state == uint256(State.Claimed)) revert AlreadyClaimed(id);
        revert AlreadyRefunded(id);
    }

    function _pay(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            bool ok;
            // No return data is copied: a recipient cannot make the claimer pay for a huge
            // return buffer.
            assembly ("memory-safe") {
                ok := call(gas(), to, amount, 0, 0, 0, 0)
            }
            if (!ok) revert EthTransferFailed(to);
        } else {
            bool ok;
            assembly ("memory-safe") {
                // transfer(to, amount), encoded past the free memory pointer
                let data := mload(0x40)
                mstore(data, shl(224, 0xa9059cbb))
                mstore(add(data, 0x04), to)
                mstore(add(data, 0x24), amount)
                ok := call(gas(), token, 0, data, 0x44, 0, 0x20)
                // Accepts `true` or no data (USDT-like tokens); a call to an address without
                // code also succeeds with no data, so then the token must have code.
                switch returndatasize()
                case 0 { ok := and(ok, gt(extcodesize(token), 0)) }
                default { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0), 1))) }
            }
            if (!ok) revert TokenTransferFailed(token);
        }
    }

    /// @dev Pulls `amount` with transferFrom and checks that the balance grew by as much.
    function _pullToken(address token, uint256 amount) private {
        if (_pulling != 0) revert Reentered();
        _pulling = 1;
        uint256 before = _tokenBalance(token);
        bool ok;
        assembly ("memory-safe") {
            // transferFrom(msg.sender, this, amount), encoded past the free memory pointer
            let data := mload(0x40)
            mstore(data, shl(224, 0x23b872dd))
            mstore(add(data, 0x04), caller())
            mstore(add(data, 0x24), address())
            mstore(add(data, 0x44), amount)
            ok := call(gas(), token, 0, data, 0x64, 0, 0x20)
            // No data (USDT-like) is fine: the balance query above proved the token has code.
            if returndatasize() { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0), 1))) }
        }
        if (!ok) revert TokenTransferFailed(token);
        uint256 afterwards = _tokenBalance(token);
        _pulling = 0;
        // A balance that shrank counts as nothing received.
        uint256 received = afterwards > before ? afterwards - before : 0;
        if (received < amount) revert TokenShortfall(token, amount, received);
    }

    /// @dev `token.balanceOf(this)`; a token that reverts, has no code or answers short
    /// data cannot be held.
    function _tokenBalance(address token) private view returns (uint256 held) {
        bool ok;
        assembly ("memory-safe") {
            mstore(0, 0x70a08231) // balanceOf(address)
            mstore(0x20, address())
            ok := staticcall(gas(), token, 0x1c, 0x24, 0, 0x20)
            ok := and(ok, gt(returndatasize(), 0x1f))
            held := mload(0)
        }
        if (!ok) revert TokenTransferFailed(token);
    }
}
