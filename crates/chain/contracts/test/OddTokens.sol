// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title Test-only contracts that misbehave the ways real ones do, to prove the HTLC copes.

/// @notice Like USDT: transfer and transferFrom return nothing, and revert on failure.
contract NoReturnToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address to, uint256 amount) external {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }

    function transferFrom(address from, address to, uint256 amount) external {
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }
}

/// @notice Old-style token: returns false instead of reverting when a transfer cannot happen.
contract FalseToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        if (balanceOf[msg.sender] < amount) return false;
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        if (allowance[from][msg.sender] < amount || balanceOf[from] < amount) return false;
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        return true;
    }
}

/// @notice An ETH recipient that tries to claim the same lock again from inside the payout,
/// and records how that attempt ended instead of failing the outer claim.
contract ReentrantRecipient {
    /// @notice The call this contract replays from `receive` (set by the test).
    bytes public replay;
    /// @notice The HTLC to call back.
    address public target;
    /// @notice Whether the reentrant call succeeded (it must not).
    bool public reentered;
    /// @notice The revert data of the reentrant call.
    bytes public reentryError;

    /// @notice Sets the HTLC and the calldata to replay when ETH arrives.
    function arm(address target_, bytes calldata replay_) external {
        target = target_;
        replay = replay_;
    }

    receive() external payable {
        if (replay.length == 0) return;
        bytes memory data = replay;
        delete replay; // one attempt only
        (bool ok, bytes memory ret) = target.call(data);
        reentered = ok;
        reentryError = ret;
    }
}

/// @notice A fee-on-transfer token: every transfer burns 1% of the amount on the way, so the
/// receiver gets 99%.
contract FeeToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        allowance[from][msg.sender] -= amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        balanceOf[from] -= amount;
        balanceOf[to] += amount - amount / 100;
    }
}

/// @notice A token with a sender hook, like ERC-777's `tokensToSend`: `transferFrom` first
/// makes one armed call (set by the test), records how it ended, then moves the balance.
contract HookToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    /// @notice The call made from inside the next `transferFrom`.
    address public hookTarget;
    bytes public hookCall;
    /// @notice Whether the hook's call succeeded, and its revert data if not.
    bool public hookSucceeded;
    bytes public hookError;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    /// @notice Arms the hook: the next `transferFrom` calls `target` with `data` first.
    function arm(address target, bytes calldata data) external {
        hookTarget = target;
        hookCall = data;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        if (hookCall.length != 0) {
            bytes memory data = hookCall;
            delete hookCall; // one call only
            (bool ok, bytes memory ret) = hookTarget.call(data);
            hookSucceeded = ok;
            hookError = ret;
        }
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        return true;
    }
}
