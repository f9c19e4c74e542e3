"""NPI check digit (Luhn over the 80840 prefix), used by pairing's roster and billing's claims."""


def is_valid_npi(value: str) -> bool:
    """True for a 10-digit NPI whose last digit is its Luhn check digit with the 80840 prefix."""
    if not (isinstance(value, str) and len(value) == 10 and value.isdigit()):
        return False
    digits = [int(c) for c in "80840" + value]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
