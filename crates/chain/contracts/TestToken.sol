// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title A plain ERC-20 for tests and the devnet, mintable by its deployer.
/// @notice Decimals are chosen at deploy so one contract can stand in for USDC (6) or a
/// typical 18-decimal token. An allowance of type(uint256).max is never decreased.
contract TestToken {
    /// @notice Token name, e.g. "USD Coin (devnet)".
    string public name;
    /// @notice Ticker, e.g. "USDC".
    string public symbol;
    /// @notice Decimals of the display unit.
    uint8 public immutable decimals;
    /// @notice The deployer, the only account allowed to mint.
    address public immutable minter;
    /// @notice Sum of all balances.
    uint256 public totalSupply;
    /// @notice Balance of each account.
    mapping(address => uint256) public balanceOf;
    /// @notice allowance[owner][spender].
    mapping(address => mapping(address => uint256)) public allowance;

    /// @notice ERC-20 transfer (mints come from address(0)).
    event Transfer(address indexed from, address indexed to, uint256 value);
    /// @notice ERC-20 approval.
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @notice `caller` is not the minter.
    error NotMinter(address caller);
    /// @notice `from` holds `balance`, less than `needed`.
    error InsufficientBalance(address from, uint256 balance, uint256 needed);
    /// @notice `spender` may move `allowance` of the owner's tokens, less than `needed`.
    error InsufficientAllowance(address spender, uint256 allowance, uint256 needed);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        minter = msg.sender;
    }

    /// @notice Creates `amount` new tokens for `to`. Minter only.
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        totalSupply += amount;
        unchecked {
            // Cannot overflow: the sum of balances is totalSupply, checked above.
            balanceOf[to] += amount;
        }
        emit Transfer(address(0), to, amount);
    }

    /// @notice ERC-20 transfer; reverts on insufficient balance.
    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    /// @notice ERC-20 approve.
    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    /// @notice ERC-20 transferFrom; reverts on insufficient allowance or balance.
    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < amount) revert InsufficientAllowance(msg.sender, allowed, amount);
            unchecked {
                allowance[from][msg.sender] = allowed - amount;
            }
        }
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        uint256 balance = balanceOf[from];
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        unchecked {
            balanceOf[from] = balance - amount;
            balanceOf[to] += amount;
        }
        emit Transfer(from, to, amount);
    }
}
