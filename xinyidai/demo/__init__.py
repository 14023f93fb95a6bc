"""The demo population: Shanghai-like enterprises, their provider data, banks and lending history."""
