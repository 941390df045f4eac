from __future__ import annotations

import pytest
import torch

from mg.adapters.pooling import check_mask, cls_pool, masked_max, masked_mean, pool

HIDDEN = torch.tensor(
    [
        [[1.0, -2.0], [3.0, 4.0], [float("nan"), float("inf")]],
        [[-1.0, 5.0], [float("-inf"), float("nan")], [float("nan"), 0.0]],
    ]
)
MASK = torch.tensor([[True, True, False], [True, False, False]])


def test_masked_mean_averages_real_positions_only() -> None:
    expected = torch.tensor([[2.0, 1.0], [-1.0, 5.0]])
    torch.testing.assert_close(masked_mean(HIDDEN, MASK), expected)


def test_masked_max_takes_the_max_of_real_positions_only() -> None:
    expected = torch.tensor([[3.0, 4.0], [-1.0, 5.0]])
    torch.testing.assert_close(masked_max(HIDDEN, MASK), expected)


def test_cls_pool_takes_the_first_real_token_even_when_left_padded() -> None:
    torch.testing.assert_close(cls_pool(HIDDEN, MASK), HIDDEN[:, 0])
    left_padded = torch.tensor([[False, True, True], [False, False, True]])
    hidden = torch.arange(12.0).reshape(2, 3, 2)
    torch.testing.assert_close(
        cls_pool(hidden, left_padded), torch.tensor([[2.0, 3.0], [10.0, 11.0]])
    )


def test_an_item_without_real_tokens_pools_to_zeros() -> None:
    mask = torch.tensor([[True, True, False], [False, False, False]])
    for method in ("mean", "max"):
        out = pool(HIDDEN, mask, method)
        assert out[1].eq(0).all() and out.isfinite().all(), method


def test_padding_gets_no_gradient() -> None:
    hidden = torch.randn(2, 4, 3, requires_grad=True)
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    for method in ("mean", "max", "cls"):
        hidden.grad = None
        pool(hidden, mask, method).sum().backward()
        assert hidden.grad is not None
        assert hidden.grad[~mask].eq(0).all(), method
        assert hidden.grad[mask].abs().sum() > 0, method


def test_integer_masks_are_read_with_one_as_a_real_token() -> None:
    as_int = MASK.long()
    assert check_mask(HIDDEN, as_int).dtype == torch.bool
    torch.testing.assert_close(
        masked_mean(HIDDEN, check_mask(HIDDEN, as_int)), masked_mean(HIDDEN, MASK)
    )


def test_a_mask_of_the_wrong_shape_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"\(batch, length\) = \(2, 3\)"):
        check_mask(HIDDEN, MASK[:, :2])


def test_unknown_pooling_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"'sum'.*mean"):
        pool(HIDDEN, MASK, "sum")  # type: ignore[arg-type]
