"""creditops: the credit-risk platform's plain-Python core."""
