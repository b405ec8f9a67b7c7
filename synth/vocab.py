"""Static word lists of the synthetic marketplace: the category tree and per-root vocabularies.

Everything here is plain data in real English words. :mod:`synth.taxonomy` turns it into
indexed arrays.
"""

from __future__ import annotations

from typing import Final

#: root -> mid -> "|"-separated leaf names (plural, as a shop would label them).
TREE: Final[dict[str, dict[str, str]]] = {
    "Electronics": {
        "Phones": "Smartphones|Phone Cases|Phone Chargers|Screen Protectors|Power Banks|"
        "Phone Mounts",
        "Computers": "Laptops|Laptop Bags|Desktops|Monitors|Keyboards|Computer Mice",
        "Audio": "Headphones|Earbuds|Bluetooth Speakers|Soundbars|Turntables|Microphones",
        "TV & Video": "Televisions|TV Wall Mounts|Streaming Devices|Projectors|Remote Controls|"
        "HDMI Cables",
        "Cameras": "Digital Cameras|Camera Lenses|Memory Cards|Tripods|Camera Bags|Action Cameras",
        "Gaming & Tablets": "Game Consoles|Game Controllers|Gaming Headsets|Video Games|"
        "Gaming Mice|Tablets",
    },
    "Home & Kitchen": {
        "Cookware": "Cookware Sets|Frying Pans|Saucepans|Dutch Ovens|Baking Sheets|"
        "Kitchen Utensils",
        "Appliances": "Coffee Makers|Blenders|Toasters|Air Fryers|Microwaves|Electric Kettles",
        "Bedding": "Bed Sheets|Duvet Covers|Pillows|Blankets|Mattress Toppers|Quilts",
        "Decor": "Throw Pillows|Wall Art|Candles|Vases|Picture Frames|Mirrors",
        "Storage": "Storage Bins|Shelves|Laundry Baskets|Hangers|Shoe Racks|Drawer Organizers",
    },
    "Furniture": {
        "Living Room": "Sofas|Coffee Tables|TV Stands|Armchairs|Bookcases|Ottomans",
        "Bedroom": "Bed Frames|Mattresses|Dressers|Nightstands|Wardrobes|Headboards",
        "Office": "Desks|Office Chairs|Filing Cabinets|Desk Lamps|Monitor Stands|Desk Organizers",
        "Dining": "Dining Tables|Dining Chairs|Bar Stools|Sideboards|Benches|Kitchen Islands",
        "Outdoor": "Patio Sets|Hammocks|Garden Benches|Outdoor Umbrellas|Lounge Chairs|Fire Pits",
    },
    "Fashion": {
        "Women": "Dresses|Blouses|Skirts|Leggings|Cardigans|Jumpsuits",
        "Men": "T-Shirts|Dress Shirts|Jeans|Chinos|Hoodies|Suits",
        "Shoes": "Running Shoes|Sneakers|Boots|Sandals|Loafers|Athletic Socks",
        "Accessories": "Handbags|Wallets|Belts|Sunglasses|Scarves|Hats",
        "Jewelry": "Necklaces|Earrings|Rings|Bracelets|Watches|Jewelry Boxes",
    },
    "Sports & Outdoors": {
        "Camping": "Tents|Sleeping Bags|Camping Stoves|Backpacks|Headlamps|Camping Chairs",
        "Cycling": "Bicycles|Bike Helmets|Bike Lights|Bike Locks|Cycling Gloves|Bike Pumps",
        "Fitness": "Yoga Mats|Yoga Blocks|Dumbbells|Resistance Bands|Jump Ropes|Exercise Bikes",
        "Team Sports": "Soccer Balls|Basketballs|Baseball Gloves|Tennis Rackets|Tennis Balls|"
        "Shin Guards",
        "Water Sports": "Swimsuits|Goggles|Kayaks|Paddles|Life Jackets|Wetsuits",
    },
    "Beauty": {
        "Skin Care": "Moisturizers|Cleansers|Serums|Sunscreens|Face Masks|Eye Creams",
        "Hair Care": "Shampoos|Conditioners|Hair Dryers|Hair Straighteners|Hair Brushes|Hair Oils",
        "Makeup": "Lipsticks|Foundations|Mascaras|Eyeshadow Palettes|Makeup Brushes|Nail Polishes",
        "Fragrance": "Perfumes|Colognes|Body Mists|Deodorants|Scented Lotions|Gift Sets",
        "Shaving": "Razors|Razor Blades|Shaving Creams|Electric Shavers|Beard Trimmers|Aftershaves",
    },
    "Baby & Toys": {
        "Baby Gear": "Baby Strollers|Car Seats|Baby Carriers|High Chairs|Baby Monitors|Playpens",
        "Nursery": "Cribs|Crib Mattresses|Changing Tables|Baby Blankets|Night Lights|Crib Sheets",
        "Feeding": "Baby Bottles|Bottle Warmers|Bibs|Sippy Cups|Breast Pumps|Baby Food",
        "Toys": "Building Blocks|Board Games|Puzzles|Dolls|Action Figures|Plush Toys",
        "Outdoor Play": "Swing Sets|Scooters|Tricycles|Sandboxes|Water Guns|Kites",
    },
    "Pet Supplies": {
        "Dogs": "Dog Food|Dog Bowls|Dog Leashes|Dog Beds|Dog Toys|Dog Collars",
        "Cats": "Cat Food|Cat Litter|Litter Boxes|Cat Trees|Cat Toys|Scratching Posts",
        "Fish": "Aquariums|Fish Food|Aquarium Filters|Aquarium Heaters|Fish Nets|Aquarium Plants",
        "Birds": "Bird Cages|Bird Seed|Bird Feeders|Bird Toys|Bird Perches|Bird Baths",
        "Small Pets": "Hamster Cages|Rabbit Food|Guinea Pig Bedding|Pet Carriers|"
        "Exercise Wheels|Hay Racks",
    },
    "Tools & Garden": {
        "Power Tools": "Drills|Drill Bits|Circular Saws|Sanders|Impact Drivers|Tool Batteries",
        "Hand Tools": "Hammers|Screwdrivers|Wrenches|Pliers|Tape Measures|Tool Boxes",
        "Paint": "Paint|Paint Brushes|Paint Rollers|Painters Tape|Drop Cloths|Primers",
        "Lighting": "Light Bulbs|Ceiling Lights|Floor Lamps|Table Lamps|String Lights|Smart Bulbs",
        "Garden": "Lawn Mowers|Garden Hoses|Pruning Shears|Grills|Grill Tools|Planters",
    },
    "Grocery": {
        "Beverages": "Coffee Beans|Ground Coffee|Tea|Sparkling Water|Juices|Energy Drinks",
        "Snacks": "Chips|Cookies|Crackers|Nuts|Granola Bars|Popcorn",
        "Pantry": "Pasta|Rice|Olive Oil|Spices|Flour|Peanut Butter",
        "Breakfast": "Cereals|Oatmeal|Pancake Mix|Maple Syrup|Honey|Jams",
        "Candy": "Chocolate|Gummies|Hard Candy|Mints|Chewing Gum|Lollipops",
    },
    "Office & Music": {
        "Instruments": "Acoustic Guitars|Electric Guitars|Guitar Strings|Digital Pianos|"
        "Drum Sets|Ukuleles",
        "Office Supplies": "Notebooks|Pens|Staplers|Binders|Sticky Notes|Calculators",
        "Printing": "Printers|Ink Cartridges|Printer Paper|Label Makers|Laminators|Scanners",
    },
}

#: Singular nouns the simple plural rule in :func:`synth.taxonomy.singular` gets wrong.
NOUN_OVERRIDES: Final[dict[str, str]] = {
    "Headphones": "headphones",
    "Earbuds": "earbuds",
    "Jeans": "jeans",
    "Chinos": "chinos",
    "Leggings": "leggings",
    "Sunglasses": "sunglasses",
    "Goggles": "goggles",
    "Pliers": "pliers",
    "Computer Mice": "computer mouse",
    "Gaming Mice": "gaming mouse",
    "Hoodies": "hoodie",
    "Cookies": "cookies",
    "Gummies": "gummies",
    "Chips": "chips",
    "Shelves": "shelf",
    "Scarves": "scarf",
    "Camera Lenses": "camera lens",
    "Coffee Beans": "coffee beans",
    "Pruning Shears": "pruning shears",
    "Wall Art": "wall art",
    "Nuts": "mixed nuts",
    "Mints": "mints",
    "Shin Guards": "shin guards",
    "Cereals": "cereal",
    "Juices": "juice",
    "Spices": "spice blend",
    "Sticky Notes": "sticky notes",
}

#: Query synonyms: the leaf noun a shopper may type differently.
SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "sofa": ("couch", "settee"),
    "television": ("tv", "flat screen"),
    "smartphone": ("cell phone", "mobile phone"),
    "laptop": ("notebook computer",),
    "sneaker": ("trainer", "tennis shoe"),
    "earbuds": ("earphones",),
    "t-shirt": ("tee", "tshirt"),
    "hoodie": ("sweatshirt",),
    "jeans": ("denim pants",),
    "cardigan": ("sweater",),
    "soccer ball": ("football",),
    "bicycle": ("bike",),
    "baby stroller": ("pram", "buggy"),
    "dresser": ("chest of drawers",),
    "wardrobe": ("armoire",),
    "nightstand": ("bedside table",),
    "coffee maker": ("coffee machine",),
    "frying pan": ("skillet",),
    "saucepan": ("pot",),
    "perfume": ("fragrance",),
    "razor": ("shaver",),
    "sunglasses": ("shades",),
    "handbag": ("purse",),
    "wallet": ("billfold",),
    "dumbbell": ("hand weight",),
    "jump rope": ("skipping rope",),
    "swimsuit": ("bathing suit",),
    "drill": ("power drill",),
    "wrench": ("spanner",),
    "tape measure": ("measuring tape",),
    "planter": ("flower pot",),
    "chips": ("crisps",),
    "cookies": ("biscuits",),
    "sparkling water": ("seltzer",),
    "power bank": ("portable charger",),
    "monitor": ("computer screen",),
    "computer mouse": ("mouse",),
    "bluetooth speaker": ("wireless speaker",),
    "soundbar": ("sound bar",),
    "desk lamp": ("reading lamp",),
    "crib": ("cot",),
    "dog leash": ("dog lead",),
    "cat tree": ("cat tower",),
    "aquarium": ("fish tank",),
    "hair dryer": ("blow dryer",),
    "electric kettle": ("tea kettle",),
    "air fryer": ("airfryer",),
    "tv stand": ("media console",),
    "bookcase": ("bookshelf",),
    "grill": ("bbq", "barbecue"),
    "armchair": ("accent chair",),
    "headphones": ("headset",),
    "tablet": ("ipad",),
}

#: (anchor leaf, complementary leaf): buyers of the first often buy the second next.
COMPLEMENTS: Final[tuple[tuple[str, str], ...]] = (
    ("Smartphones", "Phone Cases"),
    ("Laptops", "Laptop Bags"),
    ("Digital Cameras", "Memory Cards"),
    ("Televisions", "TV Wall Mounts"),
    ("Printers", "Ink Cartridges"),
    ("Game Consoles", "Game Controllers"),
    ("Coffee Makers", "Coffee Beans"),
    ("Running Shoes", "Athletic Socks"),
    ("Bed Frames", "Mattresses"),
    ("Mattresses", "Bed Sheets"),
    ("Sofas", "Throw Pillows"),
    ("Desks", "Office Chairs"),
    ("Tents", "Sleeping Bags"),
    ("Bicycles", "Bike Helmets"),
    ("Baby Strollers", "Car Seats"),
    ("Dog Food", "Dog Bowls"),
    ("Cookware Sets", "Kitchen Utensils"),
    ("Paint", "Paint Brushes"),
    ("Drills", "Drill Bits"),
    ("Tablets", "Screen Protectors"),
    ("Acoustic Guitars", "Guitar Strings"),
    ("Grills", "Grill Tools"),
    ("Yoga Mats", "Yoga Blocks"),
    ("Aquariums", "Aquarium Filters"),
)

#: Per root: (colour key, colours), (size key, sizes), (material key, materials), adjectives,
#: and a closing sentence for descriptions.
ATTRS: Final[dict[str, tuple[tuple[str, str], tuple[str, str], tuple[str, str], str, str]]] = {
    "Electronics": (
        ("color", "Black|White|Silver|Space Gray|Blue|Red|Gold|Graphite"),
        ("capacity", "16GB|32GB|64GB|128GB|256GB|512GB"),
        ("material", "Aluminum|Plastic|Glass|Carbon Fiber|Steel"),
        "Wireless|Portable|Smart|Compact|Ultra|Pro|Rechargeable|Slim|Fast|HD",
        "Backed by a one year warranty with fast charging and easy setup.",
    ),
    "Home & Kitchen": (
        ("color", "White|Black|Gray|Navy|Beige|Sage Green|Charcoal|Cream"),
        ("size", "Small|Medium|Large|Twin|Queen|King"),
        ("material", "Stainless Steel|Cotton|Ceramic|Cast Iron|Bamboo|Linen|Glass|Microfiber"),
        "Nonstick|Classic|Modern|Premium|Compact|Deluxe|Everyday|Cozy|Elegant|Durable",
        "Easy to clean and built for everyday use in any kitchen or bedroom.",
    ),
    "Furniture": (
        ("color", "Walnut|Oak|White|Black|Gray|Espresso|Natural|Navy"),
        ("size", "Small|Medium|Large|2-Seater|3-Seater|48 Inch|60 Inch"),
        ("material", "Solid Wood|Oak|Pine|Metal|Velvet|Leather|Rattan|Fabric"),
        "Modern|Mid-Century|Rustic|Scandinavian|Industrial|Ergonomic|Adjustable|Folding|Tufted",
        "Sturdy frame, simple assembly and a timeless look for your home.",
    ),
    "Fashion": (
        ("color", "Black|White|Navy|Red|Olive|Beige|Pink|Burgundy|Denim Blue"),
        ("size", "XS|S|M|L|XL|XXL"),
        ("material", "Cotton|Linen|Wool|Leather|Denim|Silk|Polyester|Cashmere"),
        "Slim Fit|Casual|Classic|Vintage|Lightweight|Oversized|Stretch|Relaxed|Elegant",
        "Soft, breathable and comfortable from morning to night.",
    ),
    "Sports & Outdoors": (
        ("color", "Black|Blue|Green|Orange|Red|Gray|Yellow|Camo"),
        ("size", "Small|Medium|Large|1-Person|2-Person|4-Person"),
        ("material", "Nylon|Polyester|Aluminum|Rubber|Foam|Carbon|Neoprene|Steel"),
        "Lightweight|Waterproof|Durable|Ultralight|Adjustable|Breathable|Foldable|Insulated",
        "Tested outdoors and ready for training, trails and weekend trips.",
    ),
    "Beauty": (
        ("shade", "Nude|Rose|Coral|Ruby|Clear|Bronze|Berry|Ivory"),
        ("size", "1 oz|2 oz|4 oz|8 oz|12 oz|16 oz"),
        ("ingredient", "Aloe|Vitamin C|Hyaluronic Acid|Argan Oil|Shea Butter|Retinol|Charcoal"),
        "Hydrating|Gentle|Organic|Fragrance-Free|Nourishing|Long-Lasting|Matte|Vegan|Soothing",
        "Dermatologist tested, cruelty free and suitable for all skin types.",
    ),
    "Baby & Toys": (
        ("color", "Pink|Blue|Gray|White|Yellow|Mint|Multicolor|Beige"),
        ("age", "Newborn|0-6 Months|6-12 Months|1-3 Years|3+ Years|One Size"),
        ("material", "Cotton|BPA-Free Plastic|Wood|Silicone|Plush|Bamboo|Steel|Foam"),
        "Soft|Safe|Educational|Colorful|Portable|Lightweight|Organic|Interactive|Foldable",
        "Safety certified and loved by parents and little ones alike.",
    ),
    "Pet Supplies": (
        ("color", "Brown|Black|Red|Blue|Gray|Green|Pink|Tan"),
        ("size", "Small|Medium|Large|X-Large|5 lb|15 lb|30 lb"),
        ("material", "Nylon|Chicken|Salmon|Beef|Stainless Steel|Plush|Rope|Glass"),
        "Durable|Natural|Grain-Free|Chew-Proof|Washable|Orthopedic|Interactive|Premium|Cozy",
        "Vet approved and made for happy, healthy pets.",
    ),
    "Tools & Garden": (
        ("color", "Yellow|Red|Black|Orange|Green|Blue|Gray|Silver"),
        ("size", "12V|18V|20V|1/2 Inch|25 ft|50 ft"),
        ("material", "Steel|Chrome Vanadium|Aluminum|Fiberglass|Rubber|Brass|Titanium"),
        "Cordless|Heavy-Duty|Professional|Compact|Brushless|Ergonomic|Magnetic|Weatherproof",
        "Built for the job site and the backyard, with a three year warranty.",
    ),
    "Grocery": (
        ("flavor", "Vanilla|Chocolate|Original|Sea Salt|Honey|Cinnamon|Mint|Berry|Lemon"),
        ("size", "8 oz|12 oz|16 oz|24 oz|32 oz|Family Pack"),
        ("origin", "Colombia|Italy|Kenya|California|Vermont|Mexico|Spain|India"),
        "Organic|Gluten-Free|Classic|Roasted|Natural|Sugar-Free|Whole Grain|Spicy|Sweet",
        "Carefully sourced, freshly packed and delicious any time of day.",
    ),
    "Office & Music": (
        ("color", "Black|Natural|Sunburst|White|Blue|Red|Silver|Assorted"),
        ("size", "Standard|Full Size|3/4 Size|Pack of 12|Pack of 50|A4"),
        ("material", "Spruce|Mahogany|Maple|Steel|Plastic|Recycled Paper|Aluminum|Nylon"),
        "Professional|Beginner|Classic|Compact|Wireless|Premium|Portable|Ergonomic|Refillable",
        "Reliable quality for the studio, the classroom and the office.",
    ),
}

_HEADS = (
    "Acme Nova Zen Aero Luma Vero Orbi Terra Apex Bolt Cora Delta Echo Fable Gala Halo Iris "
    "Juno Kai Lyra Mira Nimbus Onyx Pico Quill Rivo Sol Tempo Vita Wren Xeno Yara Zephyr Arlo "
    "Birch Cedar Dune Ember Flint Harbor Maple North Pine Summit Willow"
)
BRAND_HEADS: Final[tuple[str, ...]] = tuple(_HEADS.split(" "))
BRAND_TAILS: Final[tuple[str, ...]] = (
    "",
    "tech",
    "ware",
    "ly",
    "ix",
    "co",
    "works",
    "line",
    "craft",
    "labs",
    "home",
    "wave",
    "nest",
    "gear",
    "lux",
    "mark",
    "field",
    "stone",
    "point",
    "wood",
)
