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
