"""Minqing (民情): household contact and closed-loop issue handling for Chinese counties."""
